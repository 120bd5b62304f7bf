"""numpy and torch beside tests/bench/bench_measures on the same inputs:
    measures_ref.py svcca|pwcca|logme DIR   -> seconds value
    measures_ref.py hessian CKPT DATA       -> seconds top-eigenvalue
The formulas are those of the tests (tests/tool/similarity.py,
transfer.py): SVD and QR for CCA; LogME as the authors' code computes it,
one SVD of F and the fixed point in its basis, to the same 1e-10; the top
Hessian eigenvalue by Lanczos on torch.autograd.functional.hvp in float32
with the same stopping rule as xf-hessian (residual <= 1e-3 |lambda|)."""
import sys, time
import numpy as np

N, P, D, K = 10000, 512, 128, 10


def cca(xc, yc):
    qx, _ = np.linalg.qr(xc)
    qy, _ = np.linalg.qr(yc)
    u, rho, _ = np.linalg.svd(qx.T @ qy, full_matrices=False)
    return np.minimum(rho, 1), qx @ u


def keep(xc, frac=0.99):
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    k = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), frac - 1e-12) + 1)
    return u[:, :k] * s[:k]


def logme(f, y):
    u, s, vt = np.linalg.svd(f, full_matrices=False)
    s2 = s * s
    total = 0
    for c in range(K):
        yc = (y == c).astype(np.float64)
        z = u.T @ yc
        rest = yc @ yc - z @ z
        a, b = 1.0, 1.0
        for _ in range(1000):
            m = b * s * z / (a + b * s2)
            g = np.sum(b * s2 / (a + b * s2))
            lam = a / b
            a = g / (m @ m)
            b = (N - g) / (np.sum((s * m - z) ** 2) + rest)
            if abs(a / b - lam) <= 1e-10 * lam:
                break
        m = b * s * z / (a + b * s2)
        res = np.sum((s * m - z) ** 2) + rest
        total += (N / 2 * np.log(b) + D / 2 * np.log(a) - N / 2 * np.log(2 * np.pi)
                  - b / 2 * res - a / 2 * (m @ m) - np.sum(np.log(a + b * s2)) / 2) / N
    return total / K


def hessian(ckpt, data):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/../../tools")
    import xf2torch
    torch.set_num_threads(2)
    model, _ = xf2torch.load(ckpt)
    with open(data, "rb") as f:
        _, recs = xf2torch.read_images(f)
    x = torch.stack([r[2] for r in recs]).float() / 255
    y = torch.tensor([r[1] for r in recs])
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach() for _, p in model.named_parameters())
    t0 = time.time()

    def loss(*ps):
        return F.cross_entropy(torch.nn.utils.stateless.functional_call(
            model, dict(zip(names, ps)), (x,)), y)
    sizes = [p.numel() for p in params]
    shapes = [p.shape for p in params]

    def op(q):
        parts = torch.split(q, sizes)
        hv = torch.autograd.functional.hvp(loss, params, tuple(
            t.reshape(s) for t, s in zip(parts, shapes)))[1]
        return torch.cat([t.flatten() for t in hv]).double()
    g = torch.Generator().manual_seed(1)
    qs = [torch.randn(sum(sizes), generator=g, dtype=torch.float64)]
    qs[0] /= qs[0].norm()
    al, be = [], []
    for j in range(50):
        w = op(qs[-1].float())
        al.append(float(qs[-1] @ w))
        for _ in range(2):
            for q in qs:
                w -= (q @ w) * q
        be.append(float(w.norm()))
        t = np.diag(al) + np.diag(be[:-1], 1) + np.diag(be[:-1], -1)
        ev, z = np.linalg.eigh(t)
        if be[-1] * abs(z[-1, -1]) <= 1e-3 * abs(ev).max():
            break
        qs.append(w / be[-1])
    return time.time() - t0, ev[-1]


what = sys.argv[1]
if what == "hessian":
    t, v = hessian(sys.argv[2], sys.argv[3])
    print("%.4f %.10g" % (t, v))
    sys.exit(0)
d = sys.argv[2]
if what == "logme":
    f = np.fromfile(d + "/f.f32", "<f4").reshape(N, D).astype(np.float64)
    y = np.fromfile(d + "/y.i32", "<i4")
    t0 = time.time()
    v = logme(f, y)
else:
    x = np.fromfile(d + "/x.f32", "<f4").reshape(N, P)
    y = np.fromfile(d + "/y.f32", "<f4").reshape(N, P)
    t0 = time.time()
    xc = x.astype(np.float64); xc -= xc.mean(0)
    yc = y.astype(np.float64); yc -= yc.mean(0)
    if what == "svcca":
        v = cca(keep(xc), keep(yc))[0].mean()
    else:
        rho, h = cca(xc, yc)
        a = np.abs(xc.T @ h).sum(0)
        v = np.sum(a / a.sum() * rho)
print("%.4f %.10g" % (time.time() - t0, v))
