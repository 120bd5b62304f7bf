#!/bin/bash
# The analysis tools on a residual network (resnet-8), against PyTorch
# (TAP).  tools/xf2torch.py builds the same network from the checkpoints;
# every number is recomputed there from the formula:
#   - xf-critic: a row per module with parameters (convs and batch norms
#     inside the blocks, downsample ones included, the stem, the head), none
#     for a block; the noise-free cells (sigma = 1e-16 x scale) are the
#     loss of the network with that module moved to (1-a) theta0 + a thetaf,
#     which torch evaluates from the module's input at the block;
#   - xf-interp --bn reset: every batch norm, downsample ones included,
#     recomputed on the data (torch: momentum None, a cumulative average
#     over the same batches), then the loss along the line;
#   - xf-eval --features: a block's output is after the add and the ReLU;
#     a conv inside a block gives its stage (conv, bn, ReLU for conv1; conv,
#     bn for conv2 and the downsample, whose ReLU comes after the add);
#   - xf-cka: the default modules are the stem, the blocks and the head;
#     CKA(X, X) = 1; the linear CKA of two models' blocks matches numpy's;
#   - xf-train --freeze 2 (stem and layer1.0) leaves their weights and
#     biases byte for byte, and moves layer2.0; --copy 2 copies exactly
#     those layers and starts layer2.0 afresh.
# Needs /usr/bin/python3 with torch and msgpack (make deps).
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
py=/usr/bin/python3

if xf-import synthetic --count 48 -s 1 -o d.xfs 2>err &&
    xf-train -a resnet-8 -b 16 --steps 6 -s 1 --save-init i.tar -o a.tar \
        d.xfs 2>err &&
    xf-train -a resnet-8 -b 16 --steps 6 -s 2 -o b.tar d.xfs 2>err; then
	pass "resnet-8: two short runs"
else
	not_ok "resnet-8: two short runs"
fi

if xf-critic -j 2 --alphas 3 --sigmas 2 -k 1 --summary cs.xfs -o cg.xfs \
        --init i.tar -m a.tar d.xfs 2>err &&
    xf-cat cs.xfs >cs.tsv && xf-cat cg.xfs >cg.tsv; then
	pass "xf-critic runs on resnet-8"
else
	not_ok "xf-critic runs on resnet-8"
fi
xf-critic --modules layer1.0 --init i.tar -m a.tar d.xfs >out 2>err
rc=$?
expect_err "xf-critic: a block is not a module to move" 2 \
    "layer1.0 is a residual block"

if xf-interp -b 16 -n 3 --bn reset --summary is.xfs -o ir.xfs \
        -m a.tar -m b.tar d.xfs 2>err &&
    xf-cat ir.xfs >ir.tsv && xf-cat is.xfs >is.tsv; then
	pass "xf-interp --bn reset runs on resnet-8"
else
	not_ok "xf-interp --bn reset runs on resnet-8"
fi

feats=layer1.0,layer2.0,layer2.0.conv1,layer2.0.conv2,layer3.0.downsample.0,fc
if xf-eval -m a.tar --features "$feats" -o fa d.xfs 2>err &&
    xf-eval -m b.tar --features layer2.0 -o fb.xfs d.xfs 2>err; then
	for f in fa.*.xfs fb.xfs; do xf-cat "$f" >"${f%.xfs}.tsv"; done
	pass "xf-eval --features names blocks and the convs inside them"
else
	not_ok "xf-eval --features names blocks and the convs inside them"
fi

if xf-cka -a a.tar -o self.xfs d.xfs 2>err &&
    xf-cka -a a.tar -b b.tar --matched -o ab.xfs d.xfs 2>err &&
    xf-cka fa.layer2.0.xfs fb.xfs >ff.xfs 2>err; then
	for f in self ab ff; do xf-cat $f.xfs >$f.tsv; done
	pass "xf-cka on resnet-8 checkpoints and features"
else
	not_ok "xf-cka on resnet-8 checkpoints and features"
fi

if xf-train --init a.tar --freeze 2 -b 16 --steps 3 -o fz.tar d.xfs 2>err &&
    xf-train --init a.tar --copy 2 --freeze 2 -b 16 --steps 1 -s 5 \
        -o cp.tar d.xfs 2>err; then
	pass "xf-train --freeze 2 and --copy 2 on resnet-8"
else
	not_ok "xf-train --freeze 2 and --copy 2 on resnet-8"
fi

PYTHONPATH="$top/tools" "$py" -B - "$n" <<'PY'
import math
import sys
import tarfile

import msgpack
import numpy as np
import torch
import torch.nn.functional as F
import xf2torch

torch.set_num_threads(1)
t = int(sys.argv[1])


def report(ok, msg):
    global t
    t += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", t, msg))


def table(path):
    lines = [l.rstrip("\n").split("\t") for l in open(path)]
    return [dict(zip(lines[0], r)) for r in lines[1:]]


def features(path):
    return np.array([[float(v) for v in r["x"].split()]
                     for r in table(path)], dtype=np.float64)


def tensors(path):
    with tarfile.open(path) as tf:
        man = msgpack.unpackb(tf.extractfile("manifest.msgpack").read(),
                              raw=False)
        return {e["name"]: tf.extractfile(e["name"]).read()
                for e in man["tensors"]}


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def attempt(msg, fn):
    try:
        fn()
    except Exception as e:
        report(False, "%s: %s" % (msg, e))


with open("d.xfs", "rb") as f:
    _, recs = xf2torch.read_images(f)
x = torch.stack([r[2] for r in recs]).double() / 255
y = torch.tensor([r[1] for r in recs])
N = len(y)
A, _ = xf2torch.load("a.tar")
B, _ = xf2torch.load("b.tar")
I, _ = xf2torch.load("i.tar")
A, B, I = A.double(), B.double(), I.double()
# The modules with parameters, in xf's order (torch registers a block's
# conv1, bn1, conv2, bn2, downsample as xf lists them).
with_params = [n for n, m in A.named_modules()
               if n and len(list(m.children())) == 0 and
               len(list(m.parameters(recurse=False))) > 0]


def loss_err(model):
    with torch.no_grad():
        z = model(x)
    return (float(F.cross_entropy(z, y)),
            float((z.argmax(1) != y).double().mean()))


# ---- xf-critic ----
def critic():
    summ = table("cs.tsv")
    names = [r["module"] for r in summ]
    report(names == with_params + ["network"],
           "xf-critic: a row per module with parameters, none for a block "
           "(%d rows)" % len(names))
    ok = True
    for r in summ[:-1]:
        mod = dict(A.named_modules())[r["module"]]
        mod0 = dict(I.named_modules())[r["module"]]
        d = math.sqrt(sum(float(((p - q) ** 2).sum()) for p, q in
                          zip(mod.parameters(), mod0.parameters())))
        P = sum(p.numel() for p in mod.parameters())
        vals = [float(r[k]) for k in ("dist", "weight_norm", "final_loss",
                                      "final_error", "eps")]
        if int(r["params"]) != P or rel(float(r["dist"]), d) > 1e-5 or \
                not all(math.isfinite(v) for v in vals) or \
                math.isnan(float(r["mu"])):
            ok = False
            print("# %s: params %s want %d, dist %s want %.9g" %
                  (r["module"], r["params"], P, r["dist"], d))
    report(ok, "xf-critic: parameter counts and distances match torch, "
           "numbers finite")
    cells = table("cg.tsv")
    worst = 0
    for name in ("layer1.0.conv1", "layer2.0.conv2", "layer2.0.downsample.0",
                 "layer3.0.downsample.1", "fc"):
        mine = [c for c in cells if c["module"] == name]
        s0 = min(float(c["sigma"]) for c in mine)
        for c in mine:
            if float(c["sigma"]) != s0:
                continue
            a = float(c["alpha"])
            M, _ = xf2torch.load("a.tar")
            M = M.double()
            m = dict(M.named_modules())[name]
            m0 = dict(I.named_modules())[name]
            with torch.no_grad():
                for p, q in zip(m.parameters(), m0.parameters()):
                    p.copy_((1 - a) * q + a * p)
            lo, er = loss_err(M)
            worst = max(worst, rel(float(c["loss"]), lo))
            if abs(float(c["error"]) - er) > 1.5 / N:
                worst = float("inf")
    report(worst <= 1e-4, "xf-critic: noise-free cells of modules inside "
           "blocks match torch (max rel %.2g)" % worst)


attempt("xf-critic", critic)


# ---- xf-interp --bn reset ----
def interp():
    worst = 0
    sa, sb = A.state_dict(), B.state_dict()
    for r in table("ir.tsv"):
        lam = float(r["lambda"])
        M, _ = xf2torch.load("a.tar")
        M = M.double()
        M.load_state_dict({k: (1 - lam) * sa[k] + lam * sb[k]
                           if sa[k].is_floating_point() else sa[k]
                           for k in sa})
        bns = [m for m in M.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None            # cumulative average over batches
        M.train()
        with torch.no_grad():
            for at in range(0, N, 16):
                M(x[at:at + 16])
        M.eval()
        lo, er = loss_err(M)
        worst = max(worst, rel(float(r["loss"]), lo))
        if abs(float(r["error"]) - er) > 1.5 / N:
            worst = float("inf")
    n_ds = sum(1 for n, _ in A.named_modules() if n.endswith("downsample.1"))
    report(worst <= 1e-4 and n_ds == 2,
           "xf-interp --bn reset: every batch norm, %d downsample ones "
           "included, as torch recomputes them (max rel %.2g)" % (n_ds, worst))
    keys = [k for k in table("is.tsv")[0] if k.startswith("dist_")]
    report(keys == ["dist_" + n for n in with_params],
           "xf-interp: a distance per module with parameters, none for a "
           "block")


attempt("xf-interp", interp)


# ---- xf-eval --features ----
def feats():
    got = {}

    def hook(name):
        def f(mod, inp, out):
            got[name] = out.detach()
        return f
    for name, mod in A.named_modules():
        if name in ("layer1.0", "layer2.0", "layer2.0.bn1", "layer2.0.bn2",
                    "layer3.0.downsample", "fc"):
            mod.register_forward_hook(hook(name))
    loss_err(A)
    want = {"layer1.0": got["layer1.0"], "layer2.0": got["layer2.0"],
            "layer2.0.conv1": F.relu(got["layer2.0.bn1"]),
            "layer2.0.conv2": got["layer2.0.bn2"],
            "layer3.0.downsample.0": got["layer3.0.downsample"],
            "fc": got["fc"]}
    for name, w in want.items():
        w = w.reshape(N, -1).numpy()
        f = features("fa.%s.tsv" % name)
        r = np.abs(f - w).max() / max(np.abs(w).max(), 1e-3) \
            if f.shape == w.shape else float("inf")
        report(r <= 1e-4, "xf-eval --features %s matches torch (max rel "
               "%.2g, %d features)" % (name, r, w.shape[1]))


attempt("xf-eval --features", feats)


# ---- xf-cka ----
def linear_cka(a, b):
    a = a - a.mean(0)
    b = b - b.mean(0)
    return np.linalg.norm(b.T @ a) ** 2 / (np.linalg.norm(a.T @ a) *
                                           np.linalg.norm(b.T @ b))


def cka():
    blocks = ["conv1", "layer1.0", "layer2.0", "layer3.0", "fc"]
    rows = table("self.tsv")
    pairs = [(r["a"], r["b"]) for r in rows]
    report(pairs == [(p, q) for p in blocks for q in blocks],
           "xf-cka: the default modules are the stem, the blocks, the head")
    diag = [float(r["cka"]) for r in rows if r["a"] == r["b"]]
    sym = max(abs(float(r["cka"]) - float(s["cka"])) for r in rows
              for s in rows if r["a"] == s["b"] and r["b"] == s["a"])
    report(len(diag) == 5 and max(abs(v - 1) for v in diag) <= 1e-6 and
           sym <= 1e-9, "xf-cka: CKA(X, X) = 1 and symmetric on resnet-8")
    fb = features("fb.tsv")
    fa = features("fa.layer2.0.tsv")
    ab = {r["a"]: float(r["cka"]) for r in table("ab.tsv")}
    w = linear_cka(fa, fb)
    ff = float(table("ff.tsv")[0]["cka"])
    report(rel(ab["layer2.0"], w) <= 1e-5 and rel(ff, w) <= 1e-5,
           "xf-cka: layer2.0 of two models matches numpy (%.6g, %.6g, "
           "numpy %.6g)" % (ab["layer2.0"], ff, w))


attempt("xf-cka", cka)


# ---- xf-train --freeze and --copy count blocks ----
def freeze():
    a, fz, cp = tensors("a.tar"), tensors("fz.tar"), tensors("cp.tar")
    low = [k for k in a if (k.startswith("conv1.") or
                            k.startswith("bn1.") or
                            k.startswith("layer1.0.")) and
           not k.endswith("momentum_buffer") and
           not k.endswith("running_mean") and not k.endswith("running_var")]
    high = [k for k in a if k.startswith("layer2.0.") and
            k.endswith(".weight")]
    report(len(low) == 9 and all(fz[k] == a[k] for k in low) and
           all(fz[k] != a[k] for k in high),
           "xf-train --freeze 2: the stem's and layer1.0's %d weights and "
           "biases keep their bytes, layer2.0's move" % len(low))
    report(all(cp[k] == a[k] for k in low) and
           all(cp[k] != a[k] for k in high),
           "xf-train --copy 2: the stem and layer1.0 copied, layer2.0 "
           "afresh")


attempt("xf-train", freeze)
print("1..%d" % t)
PY
