#!/usr/bin/env bash
# Why distillation helps (Zhou, Gu & Neubig 2020): AR teachers of several sizes -> one distilled
# corpus each -> C(d), F(d) and the BLEU of a NAT student trained on every corpus -> figures in the
# shape of their Fig. 4, plus the mode-mixing study on a synthetic multi-mode corpus.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/complexity_plots.sh [-h]

Writes into \$RESULTS/<corpus>-<preset>/ (beside the main job's report, which quotes it):
  teacher-sizes/complexity/complexity.{png,pdf,json}  C(d) and F(d) of the raw and every distilled corpus
  teacher-sizes/complexity_vs_bleu.{png,pdf,json,md}  student test BLEU against C(d) and F(d), with
                                                      each teacher's valid BLEU
  synthetic-mode-mixing/mode_mixing.{png,pdf,json}    mode-mixing rates (scripts/mode_mixing.sh)
Every step is skipped when its output exists with the same configuration; runs and corpora
are shared with scripts/reproduce_nat_distillation.sh (same paths), so its teacher, SeqKD
corpus and raw/distilled students are reused, not retrained.

Environment:
  QUICK=1        5,000 training verses, quick schedules, CTranslate2 int8 regeneration
  PRESET         cpu (default) | base (GPU) | quick | tiny
  TEACHER_SIZES  teacher sizes (default: cpu "tiny small medium", base "small base big",
                 quick "tiny small")
  STUDENT        ctc (default) | any student of seqkd-nat train
  SEED           student seed (default 1)
  DEVICE         cpu | cuda (default: cuda if available)
  DATA RUNS RESULTS   output roots (default data, runs, results)
  CORPUS         a prepared corpus to use instead of bible-es-en
  MODE_MIXING=0  skip the mode-mixing study; its sizes: MODES PAIRS NAT_UPDATES TEACHER_UPDATES
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" teacher-sizes
