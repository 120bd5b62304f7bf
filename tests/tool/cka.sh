#!/bin/bash
# xf-cka's command-line contract: the invariants through the tool, the two
# input forms agreeing, and clear errors.
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

xf-import synthetic --count 120 -s 1 -o d.xfs || { echo "Bail out! no data"; exit 1; }
xf-train -a cnn-s --steps 8 -s 1 -o a.tar d.xfs &&
xf-train -a cnn-s --steps 8 -s 2 -o b.tar d.xfs &&
xf-train -a mlp --steps 4 -o m.tar d.xfs || { echo "Bail out! no models"; exit 1; }

# Every matched module of a model against itself: CKA = 1, both estimators.
for est in "" --debiased; do
	xf-cka -a a.tar --matched $est d.xfs | xf-cat | field cka > self
	bad=$(awk '{ d = $1 - 1; if (d < 0) d = -d; if (d > 1e-6) print }' self | wc -l)
	ok $(( bad == 0 && $(wc -l < self) == 6 ? 0 : 1 )) \
	    "CKA(X, X) = 1 for all 6 modules ${est:-biased}: $(tr '\n' ' ' < self)"
done
xf-cka -a a.tar -b b.tar d.xfs | xf-cat > ab.tsv
xf-cka -a b.tar -b a.tar d.xfs | xf-cat > ba.tsv
ok $(( $(wc -l < ab.tsv) == 37 ? 0 : 1 )) "6 x 6 pairs and a header line"
# Symmetry: CKA(a.m1, b.m2) = CKA(b.m2, a.m1).
awk -F'\t' 'NR > 1 { print $1, $2, $3 }' ab.tsv | sort > ab
awk -F'\t' 'NR > 1 { print $2, $1, $3 }' ba.tsv | sort > ba
paste ab ba | awk '{ d = $3 - $6; if (d < 0) d = -d; if ($1 != $4 || $2 != $5 || d > 1e-9) bad++ } END { exit bad > 0 }'
ok $? "symmetric in its two models"
# Values are in [0, 1] for the biased estimator.
field cka < ab.tsv | awk '$1 < -1e-9 || $1 > 1 + 1e-9 { bad++ } END { exit bad > 0 }'
ok $? "biased CKA lies in [0, 1]"

# The same numbers from feature streams.
xf-eval -m a.tar --features conv2 d.xfs > fa.xfs
xf-eval -m b.tar --features conv2 d.xfs > fb.xfs
v1=$(xf-cka fa.xfs fb.xfs | xf-cat | field cka)
v2=$(xf-cka -a a.tar -b b.tar --modules conv2 d.xfs | xf-cat | field cka)
close "$v1" "$v2" 1e-9
ok $? "feature streams give the checkpoint form's value ($v1 vs $v2)"
v3=$(xf-cka fa.xfs fa.xfs | xf-cat | field cka)
close "$v3" 1 1e-6
ok $? "a feature stream against itself: $v3"
# Through pipes, with minibatch CKA, and with pooling.
v4=$(xf-cka --batch 40 <(xf-eval -m a.tar --features fc1 d.xfs) \
    <(xf-eval -m b.tar --features fc1 d.xfs) | xf-cat | field estimator)
ok $([ "$v4" = minibatch-debiased ]; echo $?) "minibatch CKA from two pipes"
v5=$(xf-cka -a a.tar --modules conv1 --pool 2 d.xfs | xf-cat | field cka)
close "$v5" 1 1e-6
ok $? "pooled conv1 against itself: $v5"
v6=$(xf-cka -a a.tar -b b.tar --kernel rbf --modules fc1 d.xfs | xf-cat | field kernel)
ok $([ "$v6" = rbf ]; echo $?) "RBF kernel"

# Every value against numpy in float64, written here from the papers'
# formulas: Kornblith et al. 2019 (biased HSIC, tr(KHLH)/(n-1)^2), Song et
# al. 2012 (unbiased HSIC), Nguyen et al. 2021 (minibatch CKA: the sums of
# each batch's unbiased HSIC; xf-cka(1): a last 1 to 3 rows merged into the
# batch before them), the RBF bandwidth from each batch's own median.
cat > ref.py <<'PY'
import json, sys
import numpy as np

def load(path):
    with open(path) as f:
        rows = [json.loads(line)["x"] for line in f]
    return np.array(rows, dtype=np.float32).astype(np.float64)

def kernel(x, name, t=0.5):
    g = x @ x.T
    if name == "linear":
        return g
    sq = np.diag(g)
    d = sq[:, None] + sq[None, :] - 2 * g
    return np.exp(-d / (2 * t * t * np.median(d)))

def hsic_biased(k, l):
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ l @ h) / (n - 1) ** 2

def hsic_unbiased(k, l):
    n = len(k)
    k = k - np.diag(np.diag(k))
    l = l - np.diag(np.diag(l))
    one = np.ones(n)
    return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) /
            ((n - 1) * (n - 2)) - 2 / (n - 2) * (one @ k @ l @ one)) / \
        (n * (n - 3))

def batches(n, b):
    at = 0
    while at < n:
        m = min(b, n - at)
        if n - at - m < 4:
            m = n - at
        yield at, at + m
        at += m

# Each line of stdin, "kernel estimator batch", out again with the value.
x, y = load(sys.argv[1]), load(sys.argv[2])
for line in sys.stdin:
    name, est, b = line.split()
    b = int(b)
    if b == 0:
        hsic = hsic_biased if est == "biased" else hsic_unbiased
        cuts = [(0, len(x))]
    else:
        hsic = hsic_unbiased
        cuts = list(batches(len(x), b))
    kl = kk = ll = 0.0
    for lo, hi in cuts:
        k, l = kernel(x[lo:hi], name), kernel(y[lo:hi], name)
        kl += hsic(k, l)
        kk += hsic(k, k)
        ll += hsic(l, l)
    print(name, est, b, "%.12g" % (kl / np.sqrt(kk * ll)))
PY
xf-eval -m a.tar --features fc1 d.xfs > ffa.xfs
xf-eval -m b.tar --features fc1 d.xfs > ffb.xfs
xf-cat --json ffa.xfs > fa.json && xf-cat --json ffb.xfs > fb.json
# 120 examples: --batch 50 leaves a batch of 20, 59 leaves 2 (merged: 61),
# 117 leaves 3 (merged: one batch of 120).
/usr/bin/python3 -B ref.py fa.json fb.json > want <<'CASES'
linear biased 0
linear debiased 0
rbf biased 0
rbf debiased 0
linear biased 40
linear biased 50
linear biased 59
linear debiased 59
linear biased 117
rbf biased 30
rbf biased 50
rbf biased 59
rbf biased 117
CASES
ok $(( $(wc -l < want) == 13 ? 0 : 1 )) "numpy: 13 reference values"
while read -r name est b want; do
	flags="--kernel $name"
	[ "$est" = debiased ] && flags="$flags --debiased"
	[ "$b" -gt 0 ] && flags="$flags --batch $b"
	xf-cka $flags ffa.xfs ffb.xfs | xf-cat > got.tsv
	got=$(field cka < got.tsv)
	e=$(field estimator < got.tsv)
	ew=$est; [ "$b" -gt 0 ] && ew=minibatch-debiased
	close "$got" "$want" 1e-6 && [ "$e" = "$ew" ]
	ok $? "$name $est batch $b: xf $got ($e), numpy $want"
done < want

# Errors: one line, exit 1 for data, 2 for usage.
expect() {  # WANT TEXT CMD...
	local want=$1 text=$2
	shift 2
	"$@" > /dev/null 2> err
	local r=$?
	[ $r -eq "$want" ] && [ "$(wc -l < err)" -eq 1 ] && grep -qF -- "$text" err
	ok $? "$* -> $r: $(head -2 err | tr '\n' '|')"
}
xf-import synthetic --count 60 -s 1 -o d60.xfs
xf-eval -m b.tar --features conv2 d60.xfs > fb60.xfs
expect 1 "fb60.xfs: 60 records" xf-cka fa.xfs fb60.xfs
expect 1 "d.xfs: header" xf-cka fa.xfs d.xfs
xf-import synthetic --count 10 --shape 3,8,8 -s 1 -o rgb.xfs
expect 1 "images are 3x8x8" xf-cka -a a.tar rgb.xfs
xf-import synthetic --count 3 -s 1 -o d3.xfs
expect 1 "more than 3" xf-cka -a a.tar --debiased d3.xfs
expect 2 "--kernel poly" xf-cka --kernel poly -a a.tar d.xfs
expect 2 "nosuch" xf-cka -a a.tar --modules nosuch d.xfs
expect 2 "--batch 2" xf-cka --batch 2 -a a.tar d.xfs
expect 1 "nothere.tar" xf-cka -a nothere.tar d.xfs
tap_done
