#!/usr/bin/env bash
# Mode mixing on real data (Zhou et al. 2020, sec. 3, on a real pair of translations): bible-es-en
# with each verse's target drawn from WEB or KJV (K = 2), an AR teacher, its SeqKD corpus, the
# `ctc` student on raw and on distilled data, then the share of outputs that mix the two English
# styles ("thou hast" beside "you have"), a histogram and example outputs.
# Every step is skipped when already done (config hashes).
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/mode_mixing_bible.sh [-h] [OUT_DIR]
  OUT_DIR   where the corpora, runs and figures go (default: results/mode-mixing-bible)
Environment: PRESET (teacher and student schedule, default cpu), SEED (default 1).
Takes about 1.5 h on 2 CPU cores at the cpu preset.
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
OUT=${1:-results/mode-mixing-bible}
PRESET=${PRESET:-cpu}
SEED=${SEED:-1}
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
mkdir -p "$OUT"

"$BIN/seqkd-distill" prepare bible-es-en --multi-target --out "$OUT/bible-es-en-multi"
"$BIN/seqkd-distill" train-teacher --corpus "$OUT/bible-es-en-multi" --out "$OUT/teacher" --preset "$PRESET" --seed "$SEED"
"$BIN/seqkd-distill" regenerate --teacher "$OUT/teacher" --corpus "$OUT/bible-es-en-multi" \
  --out "$OUT/bible-es-en-multi.seqkd" --method seqkd
"$BIN/seqkd-nat" compare --teacher "$OUT/teacher" --raw "$OUT/bible-es-en-multi" --distilled "$OUT/bible-es-en-multi.seqkd" \
  --out "$OUT/students" --students ctc --seeds "$SEED" --preset "$PRESET"
# the two human translations themselves give the floor: how often a marker word of the other style
# occurs in a text written in one style ("upon" is rare in WEB, not absent)
"$BIN/seqkd-analysis" modes --corpus "$OUT/bible-es-en-multi" --hyp "WEB reference=$OUT/bible-es-en-multi/raw/test.ref.web" \
  --hyp "KJV reference=$OUT/bible-es-en-multi/raw/test.ref.kjv" --compare "$OUT/students/compare.json" \
  --marker-posterior 0.95 --min-count 20 --mode-name 0=WEB --mode-name 1=KJV --out "$OUT"
echo "real-data mode-mixing study done: $OUT/mode_mixing.json, $OUT/mode_mixing.png"
