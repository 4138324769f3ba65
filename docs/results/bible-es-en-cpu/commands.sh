seqkd-distill prepare bible-es-en --out data/bible-es-en
seqkd-distill train-teacher --corpus data/bible-es-en --out runs/teacher-cpu --preset cpu
seqkd-distill regenerate --teacher runs/teacher-cpu --corpus data/bible-es-en --out data/bible-es-en.seqkd --method seqkd
seqkd-nat compare --teacher runs/teacher-cpu --raw data/bible-es-en --distilled data/bible-es-en.seqkd --out runs/students-cpu --preset cpu --students ctc\,ctc-glat\,ar\,nat --seeds 1\,2\,3 --other-seeds 1 --parallel-runs 2
seqkd-analysis complexity --corpus data/bible-es-en --corpus data/bible-es-en.seqkd --out docs/results/bible-es-en-cpu/complexity
seqkd-analysis lost-words --compare runs/students-cpu/compare.json --out docs/results/bible-es-en-cpu/lost-words
seqkd-analysis confidence --compare runs/students-cpu/compare.json --out docs/results/bible-es-en-cpu/confidence
