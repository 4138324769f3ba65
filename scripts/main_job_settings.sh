# Sourced by scripts/reproduce_nat_distillation.sh and scripts/complexity_plots.sh: the presets
# and the corpus/run paths of the main job, in one place, so the complexity study finds (and
# reuses) exactly the teacher, SeqKD corpus and students that `make reproduce` made.
# Reads QUICK, PRESET, STUDENTS, SEEDS, OTHER_SEEDS, PARALLEL_RUNS, DEVICE, PRECISION, CORPUS, DATA, RUNS, RESULTS, SEQKD_BIN
# from the environment.
BIN=${SEQKD_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin}
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
RESULTS=${RESULTS:-results}
if [[ "${QUICK:-0}" == "1" ]]; then
  PRESET=quick
  SEEDS=${SEEDS:-1}
  OTHER_SEEDS=${OTHER_SEEDS:-1}
  # Zhou et al. (2020)'s multi-target corpus: 3 target "languages", no other ambiguity
  PREPARE=(prepare synthetic --modes 3 --word-entropy 0 --source-types 100 --train-size 10000 --vocab-size 1000)
  DEFAULT_CORPUS=$DATA/synthetic-k3
  REGENERATE_BACKEND=(--backend ctranslate2 --compute-type int8)
  REPORT_ARGS=(--quick)
else
  PRESET=${PRESET:-cpu}
  SEEDS=${SEEDS:-1,2,3}
  OTHER_SEEDS=${OTHER_SEEDS:-1}
  PREPARE=(prepare bible-es-en)
  DEFAULT_CORPUS=$DATA/bible-es-en
  REGENERATE_BACKEND=()
  REPORT_ARGS=()
fi
# a student's raw and distilled runs side by side, one CPU thread each (docs/design.md); one at a time on a GPU
[[ "$PRESET" == base ]] && PARALLEL_RUNS=${PARALLEL_RUNS:-1} || PARALLEL_RUNS=${PARALLEL_RUNS:-2}
STUDENTS=${STUDENTS:-ctc,ctc-glat,ar}  # the first is the headline student (SEEDS); the others get OTHER_SEEDS
DEVICE_ARGS=()
[[ -n "${DEVICE:-}" ]] && DEVICE_ARGS=(--device "$DEVICE")
PRECISION_ARGS=()  # the trainings' arithmetic; unset: each run's default (distill/precision.py)
[[ -n "${PRECISION:-}" ]] && PRECISION_ARGS=(--precision "$PRECISION")
CORPUS_DIR=${CORPUS:-$DEFAULT_CORPUS}
TEACHER=$RUNS/teacher-$PRESET
DISTILLED=$CORPUS_DIR.seqkd
STUDENT_RUNS=$RUNS/students-$PRESET
