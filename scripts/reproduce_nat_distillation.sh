#!/usr/bin/env bash
# The main job (`make reproduce`): AR teacher -> SeqKD corpus -> students (CTC NAT, CTC NAT with
# glancing, AR student by default) on raw vs distilled data -> one table, learning curves,
# figures, results/<name>/REPORT.md.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/reproduce_nat_distillation.sh [-h]

Runs end to end on bible-es-en (the embedded real corpus) and writes
\$RESULTS/<name>/REPORT.md, results.json and figures. Every step is skipped when its
output exists with the same configuration (config hash), so re-running resumes.

Steps: prepare bible-es-en -> train-teacher -> regenerate (SeqKD) -> seqkd-nat compare
       (students x raw/distilled x seeds; BLEU mean ± sd, paired bootstrap, speedup, curves)
       -> seqkd-analysis complexity (C(d), F(d)), lost-words (rare words, names), confidence
       (entropy, calibration) -> the report (the steps: analysis/jobs.py, seqkd-reproduce main)

Environment:
  QUICK=1     the mechanism in <= 15 min on 2 CPU cores: a synthetic corpus with 3 target
              "languages" (Zhou et al. 2020), tiny models, one seed, CTranslate2 int8
              regeneration; the report says what it shows and what it does not.
  PRESET      cpu (default: small models, 2 CPU cores) | base (GPU, transformer-base; set DEVICE=cuda)
  STUDENTS    comma-separated, the headline first (default ctc,ctc-glat,ar; also nat, nat-glat,
              cmlm, duration)
  SEEDS       the headline student's seeds, comma-separated (default 1,2,3; QUICK: 1)
  OTHER_SEEDS the other students' seeds (default 1)
  PARALLEL_RUNS  student runs trained at a time, sharing the CPU threads (default 2; base: 1)
  THREADS     CPU threads of every training and decoding (default: the machine's; QUICK: 1, so
              its numbers are the same on any number of cores)
  DEVICE      cpu | cuda (default: cuda if available)
  PRECISION   fp32 | bf16 | fp16 for every training (default: each run's own, docs/usage.md: bf16 on
              a CPU with AMX or AVX512-BF16 except for tiny models, fp32 elsewhere, fp16 on CUDA's GPU presets)
  DATA RUNS RESULTS   output roots (default data, runs, results)
  CORPUS      use this prepared corpus instead of bible-es-en (e.g. WMT14, see README)
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" main
