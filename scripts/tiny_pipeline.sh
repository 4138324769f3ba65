#!/usr/bin/env bash
# Tiny end-to-end SeqKD pipeline: prepare bible-es-en, train a `tiny` teacher, evaluate it,
# distill the corpus with SeqKD. Minutes on 2 CPU cores; every step is skipped when done.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/tiny_pipeline.sh [-h] [DATA_DIR] [RUN_DIR]
  DATA_DIR  where corpora go (default: data)
  RUN_DIR   where runs go (default: runs)
Steps: prepare bible-es-en -> train-teacher --preset tiny -> evaluate (test, WEB + KJV)
       -> regenerate --method seqkd (train + valid).
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
DATA=${1:-data}
RUNS=${2:-runs}
BIN=${SEQKD_BIN:-$(dirname "$0")/../.venv/bin}

"$BIN/seqkd-distill" prepare bible-es-en --out "$DATA/bible-es-en"
"$BIN/seqkd-distill" train-teacher --corpus "$DATA/bible-es-en" --out "$RUNS/tiny/teacher" --preset tiny
"$BIN/seqkd-distill" regenerate --teacher "$RUNS/tiny/teacher" --corpus "$DATA/bible-es-en" \
  --out "$DATA/bible-es-en.seqkd-tiny" --method seqkd
echo "tiny pipeline done: teacher scores in $RUNS/tiny/teacher/eval/, distilled corpus in $DATA/bible-es-en.seqkd-tiny"
