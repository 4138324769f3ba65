#!/usr/bin/env bash
# When distillation helps (Zhou, Gu & Neubig 2020 on real data): students of several capacities
# (ctc tiny and small, dat, vanilla nat and ar small) trained raw and distilled on two corpora of different
# complexity (bible-es-en, one translation; the same with WEB or KJV per verse), seeds 1-3, with the
# corpus measures (C(d), F(d), the teacher's BLEU on its own training sources, length), repetition,
# rare-word recall, mode mixing, and the headline figure (gain against the raw student's share of
# the teacher). Shares the main job's teacher, SeqKD corpus and runs; every step resumes, so the
# study can span several sessions: run it again and it goes on where it stopped.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/distillation_study.sh [-h]
Environment: as scripts/reproduce_nat_distillation.sh (PRESET, DATA, RUNS, RESULTS, CORPUS, DEVICE,
             PRECISION, PARALLEL_RUNS);
             SEEDS (default 1,2,3; every cell's first seed is trained before any cell's second),
             STUDY_GROUPS (comma-separated, default ctc-tiny,ctc-small,dat-small,nat-small,ar-small; not
             GROUPS, which bash keeps for itself and never exports),
             SECOND_CORPUS (default 1; 0 leaves out the WEB-or-KJV corpus),
             EXTRA_CORPORA (default lenpen,diverse,ensemble,heldout: SeqKD with the length penalty
             tuned on valid, diverse distillation with reference selection over three teachers'
             targets, those three teachers' ensemble, held-out-fold distillation; empty: none),
             EXTRA_GROUPS (the groups trained on them, default ctc-small),
             STUDY_STATE (a store directory, e.g. docs/results/study-state: the state kept small enough to
             commit, saved after every step and put back at the start, so that the study goes on on a new
             machine; DATA, RUNS and RESULTS must lie under one directory, the same on every machine;
             seqkd-distill state --help).
Runs go to \$RUNS/study-\$PRESET/<group>/ (the second corpus's under \$RUNS/bible-es-en-multi/), the
result to \$RESULTS/<name>/study/ (study.md, study.json, study.png), re-written after every round of seeds.
Takes about 27 h on 2 CPU cores at the cpu preset without the further corpora: per corpus a teacher
(45 min) and its SeqKD corpus, then per seed a ctc tiny pair (~35 min), a ctc small pair (~35 min), a
dat pair (~70 min: 2.5x ctc's time per update), a nat pair (~15 min) and an ar pair (~8 min). The further corpora add per corpus two teachers (90 min),
two half-size teachers (45 min), five regenerations (~1 h 15) and four ctc runs per seed (~75 min).
USAGE
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
BIN=${SEQKD_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
exec "$BIN/seqkd-reproduce" study
