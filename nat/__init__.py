"""fairseq ``--user-dir`` plugin of this project.

Importing it (fairseq does so for ``--user-dir nat``) makes fairseq able to load its
own checkpoints under torch >= 2.6 (see :mod:`nat.trusted_checkpoints`) and registers
the project's criterions: ``word_kd`` (word-level KD for AR students).
"""
from nat.trusted_checkpoints import trust_fairseq_checkpoints

trust_fairseq_checkpoints()

from nat.criterions import word_kd  # noqa: E402,F401  (registers the criterion)
