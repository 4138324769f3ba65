#!/usr/bin/env bash
# Benchmarks (decoding speed, regeneration backends, analysis throughput) -> results/bench/.
set -euo pipefail
usage() {
  cat <<USAGE
usage: scripts/bench.sh [-h] [extra options for seqkd-bench run]
Measures, side by side and as medians of several runs, at 1 and 2 threads: decoding (the teacher
in fairseq and CTranslate2 int8 at beam 5 and greedy, the AR student in CTranslate2 int8 greedy,
every NAT student through the lean path and through fairseq; sentences/s batched, p50/p90 latency
at batch size 1, peak memory, BLEU), teacher regeneration with fairseq vs CTranslate2
float32/int8, complexity of 1M synthetic pairs, and training throughput in fp32 and bf16
(the AR teacher and ctc at the tiny, small and medium sizes, on CORPUS).
Writes \$OUT/bench.json, \$OUT/bench.md and \$OUT/speed_quality.png (BLEU against speed).
Where a NAT student's time goes: seqkd-bench profile --run RUN --corpus CORPUS
Environment (defaults: the runs of \`make reproduce\`; with QUICK=1 those of \`make reproduce QUICK=1\`):
  DATA, RUNS, RESULTS  the directories \`make reproduce\` used (data, runs, results)
  TEACHER   AR teacher run             (\$RUNS/teacher-cpu | \$RUNS/teacher-quick)
  STUDENT_RUNS  dir of <student>-<data>-seed<k> student runs (\$RUNS/students-cpu | \$RUNS/students-quick)
  CORPUS    corpus with the test set   (\$DATA/bible-es-en | \$DATA/synthetic-k3)
  REGEN_TEACHER, REGEN_CORPUS  teacher and corpus of the regeneration section
            (\$RUNS/teacher-cpu and \$DATA/bible-es-en when they exist, else TEACHER and CORPUS:
            CTranslate2's advantage grows with model size, the quick teacher is tiny)
  OUT       output directory           (\$RESULTS/bench)
  DEVICE    cpu or cuda                (cpu)
Example, quick look: scripts/bench.sh --repeats 1 --threads 2 --sections decoding
Training only, kept beside the other sections: scripts/bench.sh --sections training --add-to-existing
All options: scripts/bench.sh --help-all
USAGE
}
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --help-all) exec "$BIN/seqkd-bench" run --help ;;
esac
exec "$BIN/seqkd-bench" run "$@"
