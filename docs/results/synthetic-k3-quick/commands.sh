seqkd-distill prepare synthetic --modes 3 --word-entropy 0 --source-types 100 --train-size 10000 --vocab-size 1000 --out data/synthetic-k3
seqkd-distill train-teacher --corpus data/synthetic-k3 --out runs/teacher-quick --preset quick
seqkd-distill regenerate --teacher runs/teacher-quick --corpus data/synthetic-k3 --out data/synthetic-k3.seqkd --method seqkd --backend ctranslate2 --compute-type int8
seqkd-nat compare --teacher runs/teacher-quick --raw data/synthetic-k3 --distilled data/synthetic-k3.seqkd --out runs/students-quick --preset quick --students ctc,ctc-glat,ar --seeds 1 --other-seeds 1 --parallel-runs 2
seqkd-analysis complexity --corpus data/synthetic-k3 --corpus data/synthetic-k3.seqkd --out results/synthetic-k3-quick/complexity
seqkd-analysis lost-words --compare runs/students-quick/compare.json --out results/synthetic-k3-quick/lost-words
seqkd-analysis confidence --compare runs/students-quick/compare.json --out results/synthetic-k3-quick/confidence
seqkd-analysis modes --corpus data/synthetic-k3 --compare runs/students-quick/compare.json --out results/synthetic-k3-quick/modes
