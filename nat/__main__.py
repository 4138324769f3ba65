import sys

from nat.cli import main

sys.exit(main())
