#!/usr/bin/env bash
# Mode-mixing study (Zhou et al. 2020, sec. 3) on a synthetic K-mode corpus:
# AR teacher, vanilla NAT on the raw multi-target data, vanilla NAT on the teacher's
# SeqKD data -> mode-mixing rate of each on the test sources + simplex/histogram figure.
# Every step is skipped when already done (config hashes).
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/mode_mixing.sh [-h] [OUT_DIR]
  OUT_DIR   where corpora, runs and figures go (default: results/mode-mixing)
Environment: MODES (default 3), PAIRS (training pairs, default 20000), NAT_UPDATES (default 3000),
             TEACHER_UPDATES (default 1500), SEED (default 1).
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
OUT=${1:-results/mode-mixing}
MODES=${MODES:-3}
PAIRS=${PAIRS:-20000}
NAT_UPDATES=${NAT_UPDATES:-3000}
TEACHER_UPDATES=${TEACHER_UPDATES:-1500}
SEED=${SEED:-1}
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
mkdir -p "$OUT"

"$BIN/seqkd-distill" prepare synthetic --out "$OUT/corpus-k$MODES" --modes "$MODES" --train-size "$PAIRS" \
  --word-entropy 0.5 --source-types 200 --vocab-size 2000 --seed "$SEED"
"$BIN/seqkd-distill" train-teacher --corpus "$OUT/corpus-k$MODES" --out "$OUT/teacher" --preset tiny \
  --size small --max-update "$TEACHER_UPDATES" --seed "$SEED" --no-eval
"$BIN/seqkd-distill" regenerate --teacher "$OUT/teacher" --corpus "$OUT/corpus-k$MODES" \
  --out "$OUT/corpus-k$MODES.seqkd" --method seqkd
for data in raw seqkd; do
  corpus="$OUT/corpus-k$MODES"; [[ $data == seqkd ]] && corpus="$OUT/corpus-k$MODES.seqkd"
  "$BIN/seqkd-nat" train --student nat --corpus "$corpus" --out "$OUT/nat-$data" --preset tiny --size small \
    --max-update "$NAT_UPDATES" --seed "$SEED"
done
for run in teacher nat-raw nat-seqkd; do
  "$BIN/seqkd-nat" decode --run "$OUT/$run" --corpus "$OUT/corpus-k$MODES" \
    --input "$OUT/corpus-k$MODES/raw/test.src" --output "$OUT/$run.test.hyp"
done
"$BIN/seqkd-analysis" modes --corpus "$OUT/corpus-k$MODES" --hyp "AR teacher=$OUT/teacher.test.hyp" \
  --hyp "NAT on raw data=$OUT/nat-raw.test.hyp" --hyp "NAT on SeqKD data=$OUT/nat-seqkd.test.hyp" --out "$OUT"
echo "mode-mixing study done: $OUT/mode_mixing.json, $OUT/mode_mixing.png"
