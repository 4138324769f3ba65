"""fairseq ``--user-dir`` of the teacher side (:mod:`distill.engine` passes it to teacher runs).

Importing it lets fairseq read its own checkpoints when a run resumes (:mod:`distill.fairseq_setup`)
and registers the criterion ``word_kd`` (word-level KD for AR students, Kim & Rush 2016).
fairseq imports it as the top-level module ``seqkd_distill_plugin``; nothing else should
import it, or ``word_kd`` would be registered twice.
"""
from distill.fairseq_setup import prepare_fairseq

prepare_fairseq()

from . import word_kd  # noqa: E402,F401  (registration)
