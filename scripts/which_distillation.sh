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
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" which-distillation
