"""fairseq ``--user-dir`` plugin of the students (:mod:`nat.students` passes it to student runs).

Importing it lets fairseq read its own checkpoints (:mod:`distill.fairseq_setup`) and registers:
  task ``translation_duration``    translation data + teacher-derived token durations
  task ``translation_multi_reference``  several targets per training source (diverse distillation)
  arch ``duration_nat``            FastSpeech-style duration NAT (Ren et al. 2019) for text
  criterion ``duration_nat_loss``  its token NLL + duration MSE
  arch ``ctc_nat``                 CTC NAT over upsampled encoder states (Libovický & Helcl 2018)
  criterion ``ctc_nat_loss``       its CTC loss, optionally with glancing (Gu & Kong 2021) or with
                                   reference selection among several targets (Shao et al. 2022)
  arch ``dag_nat``                 directed acyclic Transformer (Huang et al. 2022): links between vertices
  criterion ``dag_nat_loss``       its loss over every path of the graph, optionally with glancing
  arch ``glancing_nat``            vanilla NAT with glancing training (Qian et al. 2021)
  arch ``encoder_copy_nat``        vanilla NAT whose decoder inputs copy the encoder's output states
Vanilla NAT and CMLM are fairseq's own ``nonautoregressive_transformer`` and
``cmlm_transformer``; :mod:`nat.students` wraps them.
"""
from pathlib import Path

from distill.fairseq_setup import prepare_fairseq

prepare_fairseq()

from .criterions import ctc_nat_loss, dag_nat_loss, duration_nat_loss  # noqa: E402,F401  (registration)
from .models import ctc_nat, dag_nat, duration_nat, encoder_copy_nat, glancing_nat  # noqa: E402,F401
from .tasks import translation_duration, translation_multi_reference  # noqa: E402,F401

USER_DIR = str(Path(__file__).resolve().parent)  # what fairseq's --user-dir names
