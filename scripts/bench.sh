#!/usr/bin/env bash
# Benchmarks (decoding speed, regeneration backends, analysis throughput) -> results/bench/.
set -euo pipefail
usage() {
  cat <<USAGE
usage: scripts/bench.sh [-h] [extra options for scripts/bench.py run]
Measures, side by side and as medians of several runs: decoding (teacher beam 5/1, vanilla NAT,
duration NAT, CMLM 1/4/10 iterations; batched and batch size 1), teacher regeneration with
fairseq vs CTranslate2 float32/int8, and complexity of 1M synthetic pairs.
Writes \$OUT/bench.json and \$OUT/bench.md.
Environment (defaults: the runs of \`make reproduce\`; with QUICK=1 those of \`make reproduce QUICK=1\`):
  TEACHER   AR teacher run             (runs/teacher-cpu | runs/teacher-quick)
  STUDENT_RUNS  dir of <student>-<data>-seed<k> student runs (runs/students-cpu | runs/students-quick)
  CORPUS    corpus with the test set   (data/bible-es-en | data/synthetic-k3)
  REGEN_TEACHER, REGEN_CORPUS  teacher and corpus of the regeneration section
            (runs/teacher-cpu and data/bible-es-en when they exist, else TEACHER and CORPUS:
            CTranslate2's advantage grows with model size, the quick teacher is tiny)
  OUT       output directory           (results/bench)
  DEVICE    cpu or cuda                (cpu)
Example, quick look: scripts/bench.sh --repeats 1 --analysis-pairs 100000
All options: scripts/bench.sh --help-all
USAGE
}
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --help-all) exec "$BIN/python" "$(dirname "$0")/bench.py" run --help ;;
esac
if [[ "${QUICK:-0}" == "1" ]]; then preset=quick corpus=data/synthetic-k3; else preset=cpu corpus=data/bible-es-en; fi
regen=()
if [[ -n "${REGEN_TEACHER:-}" ]]; then regen=(--regen-teacher "$REGEN_TEACHER" --regen-corpus "${REGEN_CORPUS:?set REGEN_CORPUS too}")
elif [[ -f runs/teacher-cpu/manifest.json && -f data/bible-es-en/manifest.json ]]; then
  regen=(--regen-teacher runs/teacher-cpu --regen-corpus data/bible-es-en)
fi
exec "$BIN/python" "$(dirname "$0")/bench.py" run --teacher "${TEACHER:-runs/teacher-$preset}" \
  --students "${STUDENT_RUNS:-runs/students-$preset}" --corpus "${CORPUS:-$corpus}" --out "${OUT:-results/bench}" \
  --device "${DEVICE:-cpu}" "${regen[@]}" "$@"
