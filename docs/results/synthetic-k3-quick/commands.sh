seqkd-distill prepare synthetic --modes 3 --word-entropy 0 --source-types 100 --train-size 10000 --vocab-size 1000 --out /tmp/q/data/synthetic-k3
seqkd-distill train-teacher --corpus /tmp/q/data/synthetic-k3 --out /tmp/q/runs/teacher-quick --preset quick
seqkd-distill regenerate --teacher /tmp/q/runs/teacher-quick --corpus /tmp/q/data/synthetic-k3 --out /tmp/q/data/synthetic-k3.seqkd --method seqkd --backend ctranslate2 --compute-type int8
seqkd-nat compare --teacher /tmp/q/runs/teacher-quick --raw /tmp/q/data/synthetic-k3 --distilled /tmp/q/data/synthetic-k3.seqkd --out /tmp/q/runs/students-quick --preset quick --students ctc,ctc-glat,ar --seeds 1 --other-seeds 1 --parallel-runs 2
seqkd-analysis complexity --corpus /tmp/q/data/synthetic-k3 --corpus /tmp/q/data/synthetic-k3.seqkd --out /tmp/q/results/synthetic-k3-quick/complexity
seqkd-analysis lost-words --compare /tmp/q/runs/students-quick/compare.json --out /tmp/q/results/synthetic-k3-quick/lost-words
seqkd-analysis confidence --compare /tmp/q/runs/students-quick/compare.json --out /tmp/q/results/synthetic-k3-quick/confidence
seqkd-analysis modes --corpus /tmp/q/data/synthetic-k3 --compare /tmp/q/runs/students-quick/compare.json --out /tmp/q/results/synthetic-k3-quick/modes
