from distill.cli import main
import sys
sys.exit(main())
