#!/usr/bin/env bash
# Vanilla NAT on raw vs distilled data, diagnosed (Gu et al. 2018; Zhou, Gu & Neubig 2020): several
# configurations of the `nat` student side by side, each with its learning curve, BLEU at its own
# predicted length and at the reference's (oracle) length, output length and repetition rate.
# Reuses the main job's teacher, SeqKD corpus and nat runs (`STUDENTS=nat make reproduce`, or made
# here); every step is skipped when done.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/nat_diagnosis.sh [-h]
Environment: as scripts/reproduce_nat_distillation.sh (PRESET, DATA, RUNS, RESULTS, CORPUS, DEVICE,
             PRECISION, PARALLEL_RUNS);
             VARIANTS (comma-separated, default: all of analysis/nat_diagnosis.py's nat_variants),
             SEEDS (default 1).
Runs go to \$RUNS/nat-diagnosis-\$PRESET, the tables and curves to
\$RESULTS/<name>/nat-diagnosis/ (nat_diagnosis.md, compare.md, curves.png).
Takes about 15 min per configuration and seed on 2 CPU cores at the cpu preset, after the main job.
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" nat-diagnosis
