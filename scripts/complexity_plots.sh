#!/usr/bin/env bash
# Why distillation helps (Zhou, Gu & Neubig 2020): AR teachers of several sizes -> one distilled
# corpus each -> C(d), F(d) and the BLEU of a NAT student trained on every corpus -> figures in the
# shape of their Fig. 4, plus the mode-mixing study on a synthetic multi-mode corpus.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/complexity_plots.sh [-h]

Writes \$RESULTS/<corpus>-<preset>-complexity/:
  complexity/complexity.{png,pdf,json}   C(d) and F(d) of the raw and every distilled corpus
  complexity_vs_bleu.{png,pdf,json,md}   student test BLEU against C(d) and F(d)
  mode-mixing/mode_mixing.{png,pdf,json} mode-mixing rates (scripts/mode_mixing.sh)
Every step is skipped when its output exists with the same configuration; runs and corpora
are shared with scripts/reproduce_nat_distillation.sh (same paths), so its teacher, SeqKD
corpus and raw/distilled students are reused, not retrained.

Environment:
  QUICK=1        5,000 training verses, quick schedules, CTranslate2 int8 regeneration
  PRESET         cpu (default) | base (GPU) | quick | tiny
  TEACHER_SIZES  teacher sizes (default: cpu "tiny small medium", base "small base big",
                 quick "tiny small")
  STUDENT        ctc (default) | any student of seqkd-nat train
  SEED           student seed (default 1)
  DEVICE         cpu | cuda (default: cuda if available)
  DATA RUNS RESULTS   output roots (default data, runs, results)
  CORPUS         a prepared corpus to use instead of bible-es-en
  MODE_MIXING=0  skip the mode-mixing study; its sizes: MODES PAIRS NAT_UPDATES TEACHER_UPDATES
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

STUDENT=${STUDENT:-ctc}
SEED=${SEED:-1}
source "$(dirname "$0")/main_job_settings.sh"
if [[ "${QUICK:-0}" == "1" ]]; then  # a mode-mixing study in minutes too
  : "${PAIRS:=5000}" "${NAT_UPDATES:=600}" "${TEACHER_UPDATES:=400}"
  export PAIRS NAT_UPDATES TEACHER_UPDATES
fi
case $PRESET in
  cpu) DEFAULT_SIZES="tiny small medium" ;;
  base) DEFAULT_SIZES="small base big" ;;
  *) DEFAULT_SIZES="tiny small" ;;
esac
TEACHER_SIZES=${TEACHER_SIZES:-$DEFAULT_SIZES}
OUT=$RESULTS/$(basename "$CORPUS_DIR")-$PRESET-complexity
# the preset's own teacher size keeps the main job's paths (runs/teacher-PRESET, CORPUS.seqkd)
PRESET_SIZE=$("$BIN/python" -c "from distill.teacher import PRESETS; print(PRESETS['$PRESET']['size'])")
mkdir -p "$OUT"

if [[ -z "${CORPUS:-}" ]]; then
  "$BIN/seqkd-distill" "${PREPARE[@]}" --out "$CORPUS_DIR"
fi
corpora=("raw=$CORPUS_DIR")
student_data=(raw)  # seqkd-nat compare's data labels: the main job's raw and distilled runs are reused
teachers=("$TEACHER")  # the duration student takes its durations from this teacher
for size in $TEACHER_SIZES; do
  if [[ $size == "$PRESET_SIZE" ]]; then
    teacher=$TEACHER distilled=$DISTILLED data=distilled
  else
    teacher=$RUNS/teacher-$PRESET-$size distilled=$CORPUS_DIR.seqkd-$size data=distilled-$size
  fi
  echo "== $size teacher -> $distilled"
  "$BIN/seqkd-distill" train-teacher --corpus "$CORPUS_DIR" --out "$teacher" --preset "$PRESET" --size "$size" \
    "${DEVICE_ARGS[@]}"
  "$BIN/seqkd-distill" regenerate --teacher "$teacher" --corpus "$CORPUS_DIR" --out "$distilled" --method seqkd \
    "${REGENERATE_BACKEND[@]}" "${DEVICE_ARGS[@]}"
  corpora+=("$size teacher=$distilled")
  student_data+=("$data")
  teachers+=("$teacher")
done

echo "== C(d) and F(d) of ${#corpora[@]} corpora"
complexity_args=()
for corpus in "${corpora[@]}"; do complexity_args+=(--corpus "$corpus"); done
"$BIN/seqkd-analysis" complexity "${complexity_args[@]}" --out "$OUT/complexity"

runs_text=$("$BIN/python" -c "import sys; from nat.compare import student_run_dir
out, student, seed, *data = sys.argv[1:]
print(*(student_run_dir(out, student, label, int(seed)) for label in data), sep='\n')" \
  "$STUDENT_RUNS" "$STUDENT" "$SEED" "${student_data[@]}")
mapfile -t student_runs <<< "$runs_text"
bleu_args=()
for index in "${!corpora[@]}"; do
  name=${corpora[$index]%%=*} run=${student_runs[$index]} corpus=${corpora[$index]#*=}
  echo "== $STUDENT student on $name data: $run"
  "$BIN/seqkd-nat" train --student "$STUDENT" --corpus "$corpus" --out "$run" --preset "$PRESET" --seed "$SEED" \
    --teacher "${teachers[$index]}" "${DEVICE_ARGS[@]}"
  scores=$OUT/bleu/${name// /-}.json
  "$BIN/seqkd-nat" evaluate --run "$run" --corpus "$CORPUS_DIR" --iterations 10 --length-beam 1 \
    --out "$scores" "${DEVICE_ARGS[@]}"
  bleu_args+=(--bleu "$name=$scores")
done
"$BIN/seqkd-analysis" tradeoff --complexity-json "$OUT/complexity/complexity.json" "${bleu_args[@]}" --out "$OUT"

if [[ "${MODE_MIXING:-1}" != "0" ]]; then
  echo "== mode-mixing study"
  "$(dirname "$0")/mode_mixing.sh" "$OUT/mode-mixing"
fi
echo "complexity study done: $OUT (complexity/complexity.png, complexity_vs_bleu.png, mode-mixing/)"
