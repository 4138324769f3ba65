#!/usr/bin/env bash
# Decode a text file (one sentence per line) with a trained student or teacher run.
set -euo pipefail
usage() {
  cat <<USAGE
usage: scripts/decode.sh [-h] RUN_DIR INPUT OUTPUT [TEACHER_RUN [LENGTH_BEAM]]
  RUN_DIR      a finished run (student from seqkd-nat train, or the teacher)
  INPUT        raw source text, one sentence per line ('-' = stdin)
  OUTPUT       where the detokenized translations go ('-' = stdout), one line per input line
  TEACHER_RUN  optional AR teacher that rescores the length beam (noisy parallel decoding)
  LENGTH_BEAM  target lengths tried per sentence when a teacher is given (default 3)
Extra options (e.g. --iterations 4, --device cuda) go in SEQKD_DECODE_ARGS.
USAGE
}
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then usage; exit 0; fi
if [[ $# -lt 3 ]]; then usage >&2; exit 2; fi
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
extra=()
if [[ $# -ge 4 ]]; then extra=(--rescore-teacher "$4" --length-beam "${5:-3}"); fi
# shellcheck disable=SC2086
exec "$BIN/seqkd-nat" decode --run "$1" --input "$2" --output "$3" "${extra[@]}" ${SEQKD_DECODE_ARGS:-}
