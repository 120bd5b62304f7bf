#!/bin/bash
# Accuracy benchmarks on the real data (not part of make check):
#   cnn on Fashion-MNIST, 5 epochs; mlp on Fashion-MNIST, 10 epochs;
#   cnn-s pretrained on Fashion-MNIST, fine-tuned on 2,000 MNIST digits (P-T)
#   against the same from random init (RI-T), after 1, 5 and 30 epochs at lr
#   0.02 (the pipelines' fine-tuning rate and length: RI-T sits on a plateau
#   near chance for its first 200 or so steps, 16 steps an epoch);
#   defaults that train (issue 17 section 7): each preset, 10 seeds, 1 epoch
#   of Fashion-MNIST at the defaults, and the plain presets also with
#   --init-scheme he, with --warmup 100 and with both, counting the runs that leave
#   chance (test accuracy above 20%; chance is 10%).
# Run: make accuracy   (about 10 minutes on 2 cores, and the seeds' section
# longer, resnet-20's ten 1-epoch runs most of it).
# ACC_SECTIONS picks sections ("main seeds", the default); ACC_SEEDS the
# number of seeds (10), ACC_PRESETS the presets of the seeds' section,
# ACC_SETTINGS the plain presets' settings there (default he warmup
# he+warmup; the residual ones run at their default only), and ACC_TRAIN_N
# a smaller training set for a quick look (all 60,000).
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
sections=${ACC_SECTIONS:-main seeds}
acc() { xf-eval -m "$1" "$2" | xf-cat | awk -F'\t' 'NR == 2 { printf "%.2f%%", 100 * $4 }'; }
timed() { local t0=$(date +%s); "$@"; echo $(( $(date +%s) - t0 )); }

main() {
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
}

# Defaults that train: how many of ACC_SEEDS seeds leave chance after one
# epoch, for each preset and setting.
seeds() {
	local n=${ACC_SEEDS:-10} train=fm-train.xfs
	if [ -n "${ACC_TRAIN_N:-}" ]; then
		xf-import fashion-mnist --split train -n "$ACC_TRAIN_N" -s 1 \
		    -o fm-train-$ACC_TRAIN_N.xfs
		train=fm-train-$ACC_TRAIN_N.xfs
	fi
	for arch in ${ACC_PRESETS:-mlp cnn cnn-s cnn-bn resnet-8 resnet-20}; do
		# he changes convs only: mlp's he runs are its default runs.
		case $arch in
		resnet-*) settings="default" ;;
		mlp) settings="default warmup" ;;
		*) settings=${ACC_SETTINGS:-default he warmup he+warmup} ;;
		esac
		for set in $settings; do
			case $set in
			default) opts="" ;;
			he) opts="--init-scheme he" ;;
			warmup) opts="--warmup 100" ;;
			he+warmup) opts="--init-scheme he --warmup 100" ;;
			esac
			local left=0 accs="" t0
			t0=$(date +%s)
			for seed in $(seq 1 "$n"); do
				# shellcheck disable=SC2086
				xf-train -a "$arch" $opts -e 1 -s "$seed" -o seed.tar "$train"
				a=$(xf-eval -m seed.tar fm-test.xfs | xf-cat |
				    awk -F'\t' 'NR == 2 { printf "%.1f", 100 * $4 }')
				accs="$accs $a"
				left=$((left + $(echo "$a" | awk '{ print ($1 > 20) }')))
			done
			printf '%-9s %-7s 1 epoch, %d seeds: %d leave chance (%d s); test %%:%s\n' \
			    "$arch" "$set" "$n" "$left" $(( $(date +%s) - t0 )) "$accs"
		done
	done
}

for section in $sections; do
	"$section"
done
