#!/bin/bash
# xf-align's contract (TAP): for every preset, plain and residual, the
# aligned B2 gives B's predictions and loss (xf-eval); for the plain ones
# B2 is B under one permutation per group,
# applied to every tensor that carries the units (checked by a numpy
# re-implementation of the permutation spec); the objectives in the log are
# recomputed in numpy; weight matching ends at a coordinate-wise optimum
# (scipy's linear_sum_assignment finds no gain for any group) and raises
# Σ⟨W_A, π(W_B)⟩ over the identity; activation matching's per-layer
# correlation sums are torch's (xf2torch) and scipy's optimum; provenance;
# determinism; usage and data errors.
#
# Run by `make check` with bin/ on PATH; alone: PATH=bin:$PATH bash tests/tool/align.sh

. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
QUIET_STDOUT=1
run() { xf-align "$@" >out 2>err; rc=$?; }
py=/usr/bin/python3

# ---- data and models: two seeds per preset ----
xf-import synthetic --count 256 -s 1 -o d.xfs &&
xf-import synthetic --count 64 -s 2 -o t.xfs &&
xf-import synthetic --count 20 --shape 1,12,12 -s 1 -o small.xfs ||
	{ echo "Bail out! cannot make test data"; exit 1; }
for p in mlp cnn cnn-s cnn-bn resnet-8 resnet-20; do
	for s in 1 2; do
		xf-train -a $p -e 2 -b 32 -s $s -o $p-$s.tar d.xfs 2>/dev/null ||
			{ echo "Bail out! cannot train $p"; exit 1; }
	done
done
xf-train -a f256,f256,f -e 1 -b 32 -s 1 -o narrow.tar d.xfs 2>/dev/null ||
	{ echo "Bail out! cannot train narrow"; exit 1; }

# ---- the function is kept, for every preset and both methods ----
# same_function B B2: the same prediction for every example, and the mean
# loss within 1e-5 relative.
same_function() {
	xf-eval -m "$1" -m "$2" --examples ex.xfs t.xfs | xf-cat >eval.tsv &&
	xf-cat ex.xfs | awk -F'\t' 'NR > 1 && $3 != $7 { bad++ } END { exit bad > 0 }' &&
	awk -F'\t' 'NR == 2 { a = $6 } NR == 3 { b = $6 } END {
	    d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * a) }' eval.tsv
}
for p in mlp cnn cnn-s cnn-bn resnet-8 resnet-20; do
	xf-align -s 3 --log w-$p.xfs -a $p-1.tar -b $p-2.tar -o w-$p.tar 2>err &&
	    same_function $p-2.tar w-$p.tar
	ok $? "$p: weight matching keeps B's predictions and loss"
	xf-align --method activations --log a-$p.xfs -a $p-1.tar -b $p-2.tar \
	    -o a-$p.tar d.xfs 2>err && same_function $p-2.tar a-$p.tar
	ok $? "$p: activation matching keeps B's predictions and loss"
	xf-cat w-$p.xfs >w-$p.tsv && xf-cat a-$p.xfs >a-$p.tsv
done

# ---- the numbers, against numpy, torch and scipy ----
cat >ref.py <<'PY'
import sys
import tarfile
import msgpack
import numpy as np
sys.path.insert(0, sys.argv[1] + "/tools")
import xf2torch
import torch
from scipy.optimize import linear_sum_assignment

def tensors(path):
    with tarfile.open(path, "r:") as t:
        man = msgpack.unpackb(t.extractfile("manifest.msgpack").read(), raw=False)
        out = {}
        for e in man["tensors"]:
            out[e["name"]] = np.frombuffer(t.extractfile(e["name"]).read(),
                                           dtype="<f4").reshape(e["shape"])
    return man, out

def groups(man):
    """Git re-basin's permutation spec of a plain xf net: per conv or
    hidden fc, [(tensor, axis, block)]."""
    items = xf2torch.parse_spec(man["arch"])
    names, counts = [], {"c": 0, "b": 0, "f": 0}
    for it in items:
        counts[it[0]] = counts.get(it[0], 0) + 1
        if it[0] in "cbf":
            names.append(({"c": "conv", "b": "bn", "f": "fc"}[it[0]]) +
                         str(counts[it[0]]))
    out = []
    for k, name in enumerate(names[:-1]):
        if name.startswith("bn"):
            continue
        axes = [(name + ".weight", 0, 1), (name + ".bias", 0, 1)]
        r = k + 1
        if names[r].startswith("bn"):
            axes += [(names[r] + "." + s, 0, 1) for s in
                     ("weight", "bias", "running_mean", "running_var")]
            r += 1
        axes.append((names[r] + ".weight", 1, None))
        out.append((name, axes))
    return out

def units(t, axis, block, n):
    """t with axis split into (n, block): moved to the front, flattened."""
    s = t.shape
    if block is None:
        block = s[axis] // n
    v = t.reshape(s[:axis] + (n, block) + s[axis + 1:])
    return np.moveaxis(v, axis, 0).reshape(n, -1)

def permute(t, axis, block, n, p):
    s = t.shape
    if block is None:
        block = s[axis] // n
    v = t.reshape(s[:axis] + (n, block) + s[axis + 1:])
    return np.take(v, p, axis=axis).reshape(s)

def table(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    h = rows[0]
    return {r[h.index("layer")]: (float(r[h.index("before")]),
            float(r[h.index("after")]), int(r[h.index("moved")])) for r in rows[1:]}

def rel(a, b):
    return abs(a - b) / max(1.0, abs(b))

top, method, pa, pb, pb2, log = sys.argv[1:7]
man, A = tensors(pa)
_, B = tensors(pb)
man2, B2 = tensors(pb2)
G = groups(man)
tab = table(log)
# The permutation of each group, read off the rows of its weight once the
# groups before it are applied; B permuted by the spec is then B2, bit for
# bit.
perms = {}
P = {k: v.copy() for k, v in B.items()}
for name, axes in G:
    w, w2 = P[name + ".weight"], B2[name + ".weight"]
    n = w.shape[0]
    where = {w[j].tobytes(): j for j in range(n)}
    perms[name] = np.array([where.get(w2[i].tobytes(), -1) for i in range(n)])
    assert sorted(perms[name]) == list(range(n)), (name, "not a permutation")
    for t, axis, block in axes:
        P[t] = permute(P[t], axis, block, n, perms[name])
model_keys = [k for k in B if not k.endswith(".momentum_buffer")]
assert sorted(model_keys) == sorted(B2), (sorted(B2), "want", model_keys)
for k in model_keys:
    assert np.array_equal(P[k], B2[k]), ("tensor", k, "differs")
meta = man2["meta"]
assert meta["prov.parent"] == pb and meta["align.reference"] == pa, meta
assert meta["align.method"] == method, meta
params = [k for k in B2 if not k.endswith("running_mean") and not k.endswith("running_var")]
if method == "weights":
    before = sum(float(np.dot(A[k].ravel().astype(np.float64), B[k].ravel())) for k in params)
    after = sum(float(np.dot(A[k].ravel().astype(np.float64), B2[k].ravel())) for k in params)
    assert rel(tab["total"][0], before) < 1e-9 and rel(tab["total"][1], after) < 1e-9, \
        (tab["total"], before, after)
    assert after > before, (before, after)
    gain = 0
    for name, axes in G:
        n = len(perms[name])
        c = np.zeros((n, n))
        for t, axis, block in axes:
            if t in params:
                c += units(A[t], axis, block, n).astype(np.float64) @ \
                     units(B2[t], axis, block, n).astype(np.float64).T
        assert rel(tab[name][1], np.trace(c)) < 1e-9, (name, tab[name], np.trace(c))
        r, col = linear_sum_assignment(c, maximize=True)
        gain = max(gain, (c[r, col].sum() - np.trace(c)) / max(1, abs(np.trace(c))))
    assert gain < 1e-9, ("a group can still gain", gain)
    print("# Σ<W_A, W_B> %.6g at the identity, %.6g aligned" % (before, after))
else:
    ma, _ = xf2torch.load(pa)
    mb, _ = xf2torch.load(pb)
    _, recs = xf2torch.read_images(open(sys.argv[7], "rb"))
    x = torch.stack([r[2] for r in recs]).float() / 255
    def acts(m):
        out, h, last = {}, x, None
        with torch.no_grad():
            for kind, name, relu, arg in m.ops:
                if kind == "pool":
                    h = torch.nn.functional.max_pool2d(h, *arg)
                    continue
                if kind == "fc":
                    h = torch.flatten(h, 1)
                h = getattr(m, name)(h)
                if relu:
                    h = torch.relu(h)
                last = name if kind != "bn" else last
                out[last] = h.double().numpy()
        return out
    aa, ab = acts(ma), acts(mb)
    for name, axes in G:
        a, b = aa[name], ab[name]
        n = a.shape[1]
        a = np.moveaxis(a, 1, -1).reshape(-1, n)
        b = np.moveaxis(b, 1, -1).reshape(-1, n)
        sa, sb = a.std(0), b.std(0)
        cov = (a - a.mean(0)).T @ (b - b.mean(0)) / len(a)
        den = np.outer(sa, sb)
        corr = np.where(den > 0, cov / np.where(den > 0, den, 1), 0)
        r, col = linear_sum_assignment(corr, maximize=True)
        best = corr[r, col].sum()
        mine = corr[np.arange(n), perms[name]].sum()
        assert abs(mine - best) < 1e-4 * max(1, abs(best)), (name, mine, best)
        assert abs(tab[name][1] - best) < 1e-4 * max(1, abs(best)), (name, tab[name], best)
        assert abs(tab[name][0] - np.trace(corr)) < 1e-4 * max(1, n), (name, tab[name])
    print("# Σ corr %.6g at the identity, %.6g aligned" % (tab["total"][0], tab["total"][1]))
PY
for p in mlp cnn-s cnn-bn; do
	if "$py" ref.py "$top" weights $p-1.tar $p-2.tar w-$p.tar w-$p.tsv >ref.out 2>err; then
		pass "$p: weights: B2 is B under the spec's permutations, objectives as numpy's, no group gains under scipy's LAP"
		cat ref.out
	else
		not_ok "$p: weights: against numpy and scipy"
	fi
	if "$py" ref.py "$top" activations $p-1.tar $p-2.tar a-$p.tar a-$p.tsv d.xfs >ref.out 2>err; then
		pass "$p: activations: per-layer correlation sums are torch's and scipy's optimum"
		cat ref.out
	else
		not_ok "$p: activations: against torch and scipy"
	fi
done
awk -F'\t' '$1 == "total" { exit !($5 > $4) }' w-cnn-s.tsv
ok $? "cnn-s from two random inits: weight matching raises Σ⟨W_A, π(W_B)⟩ over the identity"
awk -F'\t' '$1 == "total" { exit !($5 > $4) } $1 == "layer2.0" { s = 1 } END { exit !s }' w-resnet-20.tsv
ok $? "resnet-20: one group per residual stream (layer2.0), and weight matching raises the total"
awk -F'\t' '$1 == "total" { exit !($5 > $4) }' a-cnn-s.tsv
ok $? "cnn-s: activation matching raises the correlation sum over the identity"

# ---- determinism, seeds, stdout ----
xf-align -s 3 -a cnn-s-1.tar -b cnn-s-2.tar -o again.tar 2>err && cmp -s again.tar w-cnn-s.tar
ok $? "the same seed gives the same bytes"
xf-align -s 3 -a cnn-s-1.tar -b cnn-s-2.tar 2>err | cmp -s - w-cnn-s.tar
ok $? "without -o the checkpoint goes to stdout"
xf-align -a cnn-s-1.tar -b cnn-s-1.tar -o self.tar 2>err && cmp -s <(tar -xOf self.tar conv1.weight) <(tar -xOf cnn-s-1.tar conv1.weight)
ok $? "a model aligned to itself is left as it is"
xf-align -v -a mlp-1.tar -b mlp-2.tar -o v.tar 2>err && grep -q '^xf-align: total ' err &&
    grep -q 'sweeps' err
ok $? "-v: the table on stderr"

# ---- usage: exit 2, one line ----
err_table usage <<'EOF'
2|--method activations: give the data|--method activations -a cnn-1.tar -b cnn-2.tar
2|d.xfs: data only with --method activations|-a cnn-1.tar -b cnn-2.tar d.xfs
2|--method sideways: want weights or activations|--method sideways -a cnn-1.tar -b cnn-2.tar
2|--log -: the checkpoint already goes to stdout|--log - -a cnn-1.tar -b cnn-2.tar
2|--sweeps 0: want an integer|--sweeps 0 -a cnn-1.tar -b cnn-2.tar
EOF
usage_cases xf-align "" "" "-a cnn-1.tar" "-b cnn-2.tar" "--nosuch -a cnn-1.tar -b cnn-2.tar" \
    "-a cnn-1.tar -b cnn-2.tar d.xfs t.xfs"

# ---- bad data: exit 1, one line naming the file ----
err_table data '-o x.tar' <<'EOF'
1|cnn-s-2.tar: tensor conv1.weight: shape 16x1x3x3, want 32x1x3x3|-a cnn-1.tar -b cnn-s-2.tar
1|mlp-2.tar: tensor 0 is fc1.weight, want conv1.weight|-a cnn-1.tar -b mlp-2.tar
1|narrow.tar: tensor fc1.weight: shape 256x784, want 512x784|-a mlp-1.tar -b narrow.tar
1|small.xfs: cnn-1.tar: images are 1x12x12, the model takes 1x28x28|--method activations -a cnn-1.tar -b cnn-2.tar small.xfs
1|nosuch.tar|-a nosuch.tar -b cnn-2.tar
EOF
[ ! -e x.tar ]
ok $? "no output after a failure"
cp cnn-2.tar b-copy.tar
run -a cnn-1.tar -b b-copy.tar -o b-copy.tar
expect_err "-o onto B is refused" 1 "b-copy.tar: is also an input"
cmp -s cnn-2.tar b-copy.tar
ok $? "and B is left as it was"

tap_done
