"""xf-eval --score logme,leep,hscore against numpy references written here
from the papers: LogME by Algorithm 2 of You et al. 2021 in its naive form
(A = alpha I + beta F'F, solves in D dimensions) and the evidence by their
Eq. 2 with log|A| over all D eigenvalues; LEEP by Nguyen et al. 2020; the
H-score of Bao et al. 2019 as tr(pinv(cov f) cov(E[f|y])).  Reads the
features and logits xf-eval writes; prints PASS|FAIL lines.  With the
source tree as argument, also scores a resnet-8 and a plain stack with a
max pool below its head on the features torch's head reads: the model built
by tools/xf2torch.py in float64, its head's input taken by a forward hook
(for resnet-8 the global average pool's output)."""
import io, os, subprocess, sys
import msgpack
import numpy as np


def stream(path):
    with open(path, "rb") as f:
        recs = list(msgpack.Unpacker(f, raw=False))
    x = np.array([np.frombuffer(r["x"], "<f4") for r in recs[1:]])
    return x.astype(np.float64), np.array([r["y"] for r in recs[1:]])


def logme(f, y, k, tol=1e-10):
    n, d = f.shape
    ftf = f.T @ f
    s = np.linalg.eigvalsh(ftf)
    s = np.where(s > 1e-12 * s.max(), s, 0)
    total = 0
    for c in range(k):
        yc = (y == c).astype(np.float64)
        alpha, beta = 1.0, 1.0
        for _ in range(1000):
            a = alpha * np.eye(d) + beta * ftf
            m = beta * np.linalg.solve(a, f.T @ yc)
            gamma = np.sum(beta * s / (alpha + beta * s))
            lam = alpha / beta
            alpha = gamma / (m @ m)
            beta = (n - gamma) / np.sum((f @ m - yc) ** 2)
            if abs(alpha / beta - lam) <= tol * lam:
                break
        a = alpha * np.eye(d) + beta * ftf
        m = beta * np.linalg.solve(a, f.T @ yc)
        logdet = np.sum(np.log(alpha + beta * s))   # Eq. 2: all D of them
        ev = (n / 2 * np.log(beta) + d / 2 * np.log(alpha)
              - n / 2 * np.log(2 * np.pi)
              - beta / 2 * np.sum((f @ m - yc) ** 2)
              - alpha / 2 * (m @ m) - logdet / 2)
        total += ev / n
    return total / k


def leep(theta, y, k):
    n, z = theta.shape
    joint = np.zeros((k, z))
    for c in range(k):
        joint[c] = theta[y == c].sum(0) / n
    cond = joint / joint.sum(0, keepdims=True)
    return np.mean(np.log(np.sum(cond[y] * theta, 1)))


def hscore(f, y, k):
    def cov(x):
        xc = x - x.mean(0)
        return xc.T @ xc / (len(x) - 1)
    g = np.zeros_like(f)
    for c in range(k):
        g[y == c] = f[y == c].mean(0)
    return np.trace(np.linalg.pinv(cov(f), rcond=1e-10, hermitian=True) @ cov(g))


def softmax(l):
    e = np.exp(l - l.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def scores(model, data):
    out = subprocess.run(["xf-eval", "--score", "logme,leep,hscore", "-m",
        model, data], capture_output=True, check=True).stdout
    recs = list(msgpack.Unpacker(io.BytesIO(out), raw=False))[1:]
    return {r["score"]: r["value"] for r in recs}, recs


def check(cond, what):
    print(("PASS " if cond else "FAIL ") + what)


def compare(got, want, names, what):
    for s in names:
        d = abs(got[s] - want[s])
        check(d <= 1e-6 * max(1, abs(want[s])),
              f"{s}, {what}: {got[s]:.10g} vs numpy {want[s]:.10g}")


for model, data, k, what in (("a.tar", "d.xfs", 10, "n = 400 > D = 128"),
                             ("a.tar", "small.xfs", 10, "D = 128 > n = 60")):
    got, recs = scores(model, data)
    subprocess.run(["xf-eval", "-m", model, "--features", "fc1", "-o",
        "f.xfs", data], check=True)
    subprocess.run(["xf-eval", "-m", model, "--features", "fc2", "-o",
        "l.xfs", data], check=True)
    f, y = stream("f.xfs")
    logits, _ = stream("l.xfs")
    want = {"logme": logme(f, y, k), "leep": leep(softmax(logits), y, k),
            "hscore": hscore(f, y, k)}
    compare(got, want, ("logme", "leep", "hscore"), what)
    check(len(recs) == 3 and all(r["model"] == model and r["n"] == len(y)
          for r in recs), f"one record per model and score, {what}")


def torch_head(top, model_path, data):
    """The head's input and its logits, from torch in float64, and the
    labels."""
    sys.path.insert(0, os.path.join(top, "tools"))
    import torch
    import xf2torch
    model, _ = xf2torch.load(model_path)
    head = model.fc if hasattr(model, "fc") else \
        getattr(model, [n for n, _ in model.named_children()
                        if n.startswith("fc")][-1])
    seen = []
    head.register_forward_hook(lambda m, i, o: seen.append((i[0], o)))
    with open(data, "rb") as f:
        _, recs = xf2torch.read_images(f)
    x = torch.stack([r[2] for r in recs]).double() / 255
    model.double()
    with torch.no_grad():
        model(x)
    f, logits = (t.numpy() for t in seen[0])
    return f, logits, np.array([r[1] for r in recs])


if len(sys.argv) > 1:
    for model, data, names, what in (
            ("r.tar", "r.xfs", ("logme", "leep", "hscore"),
             "resnet-8, the average pool's 64 outputs, n = 200"),
            ("pp.tar", "d.xfs", ("logme", "leep", "hscore"),
             "c4,p,p,f, the max pool's 196 outputs, n = 400")):
        f, logits, y = torch_head(sys.argv[1], model, data)
        want = {"leep": leep(softmax(logits), y, 10), "hscore": hscore(f, y, 10)}
        if "logme" in names:
            want["logme"] = logme(f, y, 10)
        out = subprocess.run(["xf-eval", "--score", ",".join(names), "-m",
            model, data], capture_output=True, check=True).stdout
        recs = list(msgpack.Unpacker(io.BytesIO(out), raw=False))[1:]
        got = {r["score"]: r["value"] for r in recs}
        compare(got, want, names, what)
        width = {r["score"]: r["features"] for r in recs}
        check(all(width[s] == (logits.shape[1] if s == "leep" else f.shape[1])
                  for s in names), f"{what}: the widths scored {width}")
