#!/usr/bin/env bash
# Distillation for compression of an autoregressive student: Kim & Rush (2016)'s table (baseline, word-level KD,
# SeqKD, Seq-Inter, word-level + SeqKD; greedy and beam 5) and Shleifer & Rush (2020)'s (shrink and fine-tune, KD,
# SeqKD, each with its measured cost), in one table, with the papers' findings checked against it.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/compression_tables.sh [-h]
Environment: as scripts/reproduce_nat_distillation.sh (PRESET, DATA, RUNS, RESULTS, CORPUS, DEVICE,
             PRECISION, SEEDS: default 1,2,3);
             TEACHER_LAYERS          the teacher's encoder,decoder layers (default 4,4; the preset's size)
             STUDENT_DECODER_LAYERS  the student's decoder layers (default 1; its encoder is the teacher's depth,
                                     so that shrinking copies it whole)
             KD_ALPHAS               word-level KD's weights to choose from on valid (default 0.5,0.9)
             TEACHER_UPDATES, STUDENT_UPDATES   override the preset's number of updates
Runs go to \$RUNS/compression-\$PRESET-e<E>d<D>, the table, the findings and the figure (BLEU against cost) to
\$RESULTS/<name>/compression/ (compression.md, compression.json, compression.png).
At the cpu preset on 2 CPU cores: the 4+4 teacher ~1.5 h, two regenerations ~1 h, then 7 methods x 3 seeds
(+1 alpha) of ~35-50 min each: about 15 h. Every step resumes.
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" compression
