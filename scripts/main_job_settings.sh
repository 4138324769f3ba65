# Sourced by scripts/reproduce_nat_distillation.sh and scripts/complexity_plots.sh: the presets
# and the corpus/run paths of the main job, in one place, so the complexity study finds (and
# reuses) exactly the teacher, SeqKD corpus and students that `make reproduce` made.
# Reads QUICK, PRESET, SEEDS, DEVICE, CORPUS, DATA, RUNS, RESULTS, SEQKD_BIN from the environment.
BIN=${SEQKD_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin}
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
RESULTS=${RESULTS:-results}
if [[ "${QUICK:-0}" == "1" ]]; then
  PRESET=quick
  SEEDS=${SEEDS:-1}
  PREPARE=(prepare bible-es-en --train-limit 5000)
  DEFAULT_CORPUS=$DATA/bible-es-en-5k
  REGENERATE_BACKEND=(--backend ctranslate2 --compute-type int8)
else
  PRESET=${PRESET:-cpu}
  SEEDS=${SEEDS:-1,2,3}
  PREPARE=(prepare bible-es-en)
  DEFAULT_CORPUS=$DATA/bible-es-en
  REGENERATE_BACKEND=()
fi
DEVICE_ARGS=()
[[ -n "${DEVICE:-}" ]] && DEVICE_ARGS=(--device "$DEVICE")
CORPUS_DIR=${CORPUS:-$DEFAULT_CORPUS}
TEACHER=$RUNS/teacher-$PRESET
DISTILLED=$CORPUS_DIR.seqkd
STUDENTS=$RUNS/students-$PRESET
