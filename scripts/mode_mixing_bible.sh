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
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" mode-mixing-bible "$@"
