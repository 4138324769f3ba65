"""fairseq ``--user-dir`` plugin of this project.

Importing it (fairseq does so for ``--user-dir nat``) makes fairseq able to load its
own checkpoints under torch >= 2.6 (see :mod:`nat.trusted_checkpoints`) and registers:
  criterion ``word_kd``            word-level KD for AR students (Kim & Rush 2016)
  task ``translation_duration``    translation data + teacher-derived token durations
  arch ``duration_nat``            FastSpeech-style duration NAT (Ren et al. 2019) for text
  criterion ``duration_nat_loss``  its token NLL + duration MSE
  arch ``ctc_nat``                 CTC NAT over upsampled encoder states (Libovický & Helcl 2018)
  criterion ``ctc_nat_loss``       its CTC loss, optionally with glancing (Gu & Kong 2021)
  arch ``glancing_nat``            vanilla NAT with glancing training (Qian et al. 2021)
Vanilla NAT and CMLM are fairseq's own ``nonautoregressive_transformer`` and
``cmlm_transformer``; :mod:`nat.students` wraps them.
"""
import logging

logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)  # "install tensorboardX" noise
_root_level = logging.getLogger().level

from nat.trusted_checkpoints import trust_fairseq_checkpoints  # noqa: E402

trust_fairseq_checkpoints()

from nat.criterions import ctc_nat_loss, duration_nat_loss, word_kd  # noqa: E402,F401  (registration)
from nat.models import ctc_nat, duration_nat, glancing_nat  # noqa: E402,F401
from nat.tasks import translation_duration  # noqa: E402,F401

# importing fairseq's models runs wav2vec2_classification's logging.basicConfig(level=DEBUG),
# which floods every later program output (matplotlib font lookups, ...): undo that
logging.getLogger().setLevel(_root_level)
