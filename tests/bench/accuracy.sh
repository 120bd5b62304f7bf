#!/bin/bash
# Accuracy benchmarks on the real data (not part of make check):
#   cnn on Fashion-MNIST, 5 epochs; mlp on Fashion-MNIST, 10 epochs;
#   cnn-s pretrained on Fashion-MNIST, fine-tuned on 2,000 MNIST digits (P-T)
#   against the same from random init (RI-T), after 1, 5 and 30 epochs at lr
#   0.02 (the pipelines' fine-tuning rate and length: RI-T sits on a plateau
#   near chance for its first 200 or so steps, 16 steps an epoch).
# Run: make accuracy   (about 10 minutes on 2 cores)
set -eu
top=${XF_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
PATH=$top/bin:$PATH
dir=${ACC_DIR:-$top/out/accuracy}
mkdir -p "$dir"
cd "$dir"
[ -s fm-train.xfs ] || xf-import fashion-mnist --split train -o fm-train.xfs
[ -s fm-test.xfs ] || xf-import fashion-mnist --split test -o fm-test.xfs
[ -s digits.xfs ] || xf-import mnist --split train -n 2000 -s 1 -o digits.xfs
[ -s digits-test.xfs ] || xf-import mnist --split test -o digits-test.xfs
acc() { xf-eval -m "$1" "$2" | xf-cat | awk -F'\t' 'NR == 2 { printf "%.2f%%", 100 * $4 }'; }
timed() { local t0=$(date +%s); "$@"; echo $(( $(date +%s) - t0 )); }

s=$(timed xf-train -a cnn -e 5 -b 64 -l 0.02 --schedule cosine -s 1 -o cnn.tar fm-train.xfs)
echo "cnn, Fashion-MNIST, 5 epochs (batch 64, lr 0.02, cosine): test accuracy $(acc cnn.tar fm-test.xfs)  ($s s)"
s=$(timed xf-train -a mlp -e 10 -l 0.05 --schedule cosine -s 1 -o mlp.tar fm-train.xfs)
echo "mlp, Fashion-MNIST, 10 epochs (cosine, lr 0.05): test accuracy $(acc mlp.tar fm-test.xfs)  ($s s)"
s=$(timed xf-train -a cnn-s -e 3 -l 0.05 -s 1 -o p.tar fm-train.xfs)
echo "cnn-s, Fashion-MNIST, 3 epochs (P):             test accuracy $(acc p.tar fm-test.xfs)  ($s s)"
for kind in pt rit; do
	if [ $kind = pt ]; then start="--init p.tar --new-head"; else start="-a cnn-s"; fi
	line=""
	for e in 1 5 30; do
		xf-train $start -e $e -l 0.02 -s 1 -o $kind-e$e.tar digits.xfs
		line="$line  epoch $e: $(acc $kind-e$e.tar digits-test.xfs)"
	done
	echo "$(echo $kind | sed 's/pt/P-T /; s/rit/RI-T/') on 2,000 MNIST digits, test split:$line"
done
