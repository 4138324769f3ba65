#!/usr/bin/env bash
# Which distillation (Kim & Rush 2016): the headline student trained on the raw corpus, on the
# teacher's SeqKD corpus (beam top-1), on its Seq-Inter corpus (the n-best candidate closest to the
# reference) and on an ensemble teacher's SeqKD corpus (the main teacher and a second seed), side
# by side in one table with the teacher's cost per sentence of each corpus. Reuses the main job's
# teacher, SeqKD corpus and student runs (`make reproduce`); every step is skipped when done.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/which_distillation.sh [-h]
Environment: as scripts/reproduce_nat_distillation.sh (PRESET, DATA, RUNS, RESULTS, CORPUS, DEVICE,
             PARALLEL_RUNS);
             STUDENT (default ctc), SEEDS (default 1), NBEST (Seq-Inter candidates, default 5),
             CORPORA (default seq-inter,ensemble), TEACHER2 (the second teacher's run for the ensemble;
             default \$RUNS/teacher-\$PRESET-seed2, trained here if missing).
Runs go to \$RUNS/which-distillation-\$PRESET, the table to \$RESULTS/<name>/which-distillation/compare.md.
Takes about 1.5 h on 2 CPU cores at the cpu preset after the main job (a second teacher, two
regenerations, two new student runs per seed).
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
STUDENT=${STUDENT:-ctc}
WHICH_SEEDS=${SEEDS:-1}
source "$(dirname "$0")/main_job_settings.sh"
NBEST=${NBEST:-5}
OUT=$RESULTS/$(basename "$CORPUS_DIR")-$PRESET/which-distillation
WHICH_RUNS=$RUNS/which-distillation-$PRESET
mkdir -p "$OUT" "$WHICH_RUNS"

CORPORA=${CORPORA:-seq-inter,ensemble}
distilled=(--distilled "$DISTILLED")  # the main job's SeqKD corpus, named `distilled`
if [[ ",$CORPORA," == *,seq-inter,* ]]; then
  "$BIN/seqkd-distill" regenerate --teacher "$TEACHER" --corpus "$CORPUS_DIR" --out "$CORPUS_DIR.seq-inter" \
    --method seq-inter --nbest "$NBEST" "${DEVICE_ARGS[@]}"
  distilled+=(--distilled "seq-inter=$CORPUS_DIR.seq-inter")
fi
if [[ ",$CORPORA," == *,ensemble,* ]]; then
  TEACHER2=${TEACHER2:-$TEACHER-seed2}
  if [[ -f "$TEACHER2/manifest.json" ]]; then  # a finished second teacher is used as it is, wherever it was trained
    echo "$TEACHER2: trained; using it"
  else
    "$BIN/seqkd-distill" train-teacher --corpus "$CORPUS_DIR" --out "$TEACHER2" --preset "$PRESET" --seed 2 "${DEVICE_ARGS[@]}"
  fi
  "$BIN/seqkd-distill" regenerate --teacher "$TEACHER" --teacher "$TEACHER2" --corpus "$CORPUS_DIR" \
    --out "$CORPUS_DIR.ensemble" --method seqkd "${DEVICE_ARGS[@]}"
  distilled+=(--distilled "ensemble=$CORPUS_DIR.ensemble")
fi
# the main job's students on raw and on its SeqKD corpus are reused, linked
for seed in ${WHICH_SEEDS//,/ }; do
  for data in raw distilled; do
    run=$STUDENT_RUNS/$STUDENT-$data-seed$seed
    if [[ -d "$run" && ! -e "$WHICH_RUNS/${run##*/}" ]]; then ln -s "$(cd "$run" && pwd)" "$WHICH_RUNS/${run##*/}"; fi
  done
done
"$BIN/seqkd-nat" compare --teacher "$TEACHER" --raw "$CORPUS_DIR" "${distilled[@]}" \
  --out "$WHICH_RUNS" --preset "$PRESET" --students "$STUDENT" --seeds "$WHICH_SEEDS" --parallel-runs "$PARALLEL_RUNS" \
  "${DEVICE_ARGS[@]}"
cp "$WHICH_RUNS/compare.md" "$WHICH_RUNS/compare.json" "$WHICH_RUNS/curves.png" "$OUT/"
echo "which distillation: $OUT/compare.md"
