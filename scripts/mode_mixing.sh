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
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" mode-mixing "$@"
