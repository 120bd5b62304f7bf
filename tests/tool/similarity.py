"""SVCCA, PWCCA and Procrustes of xf-cka --measure against numpy references
written here from the papers' formulas (through SVD and QR of the data, not
xf's eigen-of-Gram route), and the invariants.  Prints one line per check:
PASS|FAIL description.  Run by similarity.sh."""
import struct, subprocess, sys
import msgpack
import numpy as np

rng = np.random.default_rng(7)


def write(path, x):
    n, p = x.shape
    with open(path, "wb") as f:
        f.write(msgpack.packb({"format": "xf-stream", "version": 1,
            "kind": "features", "dtype": "float32", "shape": [p],
            "module": "m", "classes": 0, "count": n, "endian": "little",
            "provenance": ["similarity.py"]}))
        for i in range(n):
            f.write(msgpack.packb({"i": i, "y": 0,
                "x": x[i].astype("<f4").tobytes()}))


def xf(measure, x, y, *extra):
    write("x.xfs", x)
    write("y.xfs", y)
    out = subprocess.run(["xf-cka", "--measure", measure, *extra, "x.xfs",
        "y.xfs"], capture_output=True, check=True).stdout
    recs = list(msgpack.Unpacker(__import__("io").BytesIO(out), raw=False))
    key = {"procrustes": "procrustes_distance"}.get(measure, measure)
    return recs[1][key]


def centre(x):
    x = x.astype(np.float64)
    return x - x.mean(0)


def keep_dirs(xc, frac):
    """Raghu et al.: the top singular directions explaining frac of the
    variance, as the reduced data U_k S_k."""
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    k = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), frac - 1e-12) + 1)
    return u[:, :k] * s[:k]


def cca(xc, yc):
    """Canonical correlations (Björck-Golub: SVD of Qx'Qy) and X's
    canonical variates h_i = Qx u_i."""
    qx, _ = np.linalg.qr(xc)
    qy, _ = np.linalg.qr(yc)
    u, rho, _ = np.linalg.svd(qx.T @ qy, full_matrices=False)
    return np.minimum(rho, 1), qx @ u


def svcca(x, y, frac=0.99):
    rho, _ = cca(keep_dirs(centre(x), frac), keep_dirs(centre(y), frac))
    return rho.mean()


def pwcca(x, y):
    """Morcos et al. 2018: alpha_i = sum_j |<h_i, x_j>|, normalised,
    PWCCA = sum alpha_i rho_i, on the full CCA."""
    xc = centre(x)
    rho, h = cca(xc, centre(y))
    a = np.abs(xc.T @ h).sum(0)
    return np.sum(a / a.sum() * rho)


def procrustes(x, y):
    """Ding et al. 2021: 2 - 2 |X'Y|_* after centring and unit norm."""
    xc, yc = centre(x), centre(y)
    xc /= np.linalg.norm(xc)
    yc /= np.linalg.norm(yc)
    return 2 - 2 * np.linalg.svd(xc.T @ yc, compute_uv=False).sum()


def check(cond, what):
    print(("PASS " if cond else "FAIL ") + what)


def close(a, b, tol, what):
    check(abs(a - b) <= tol, f"{what}: {a:.10g} vs {b:.10g}")


# Features with a decaying spectrum and a shared part, so that the 99% cut
# keeps some directions but not all, and correlations are neither 0 nor 1.
n, p, q = 600, 40, 30
z = rng.standard_normal((n, 12))
x = (rng.standard_normal((n, p)) * np.exp(-np.arange(p) / 8) +
     z @ rng.standard_normal((12, p))) + 3.0
y = (rng.standard_normal((n, q)) * np.exp(-np.arange(q) / 6) +
     z @ rng.standard_normal((12, q))) - 1.0
x = x.astype(np.float32)
y = y.astype(np.float32)
xd, yd = x.astype(np.float64), y.astype(np.float64)

close(xf("svcca", x, y), svcca(xd, yd), 1e-6, "SVCCA = numpy reference")
close(xf("svcca", x, y, "--keep", "0.9"), svcca(xd, yd, 0.9), 1e-6,
      "SVCCA --keep 0.9 = numpy reference")
close(xf("pwcca", x, y), pwcca(xd, yd), 1e-6, "PWCCA = numpy reference")
close(xf("pwcca", y, x), pwcca(yd, xd), 1e-6,
      "PWCCA with the weights on the other side = numpy reference")
close(xf("procrustes", x, y), procrustes(xd, yd), 1e-6,
      "Procrustes distance = numpy reference")
# Wider than n: the Gram route of the n x n side.
xw = rng.standard_normal((50, 80)).astype(np.float32)
yw = (xw[:, :60] + 0.5 * rng.standard_normal((50, 60))).astype(np.float32)
close(xf("svcca", xw, yw), svcca(xw.astype(float), yw.astype(float)), 1e-6,
      "SVCCA with p > n = numpy reference")
close(xf("procrustes", xw, yw), procrustes(xw.astype(float), yw.astype(float)),
      1e-6, "Procrustes with p > n = numpy reference")

# Self-similarity.
close(xf("svcca", x, x), 1, 1e-6, "SVCCA(X, X) = 1")
close(xf("pwcca", x, x), 1, 1e-6, "PWCCA(X, X) = 1")
close(xf("procrustes", x, x), 0, 1e-6, "Procrustes(X, X) = 0")

# Orthogonal maps of either side (in float32, as a tool would get them).
qa, _ = np.linalg.qr(rng.standard_normal((p, p)))
qb, _ = np.linalg.qr(rng.standard_normal((q, q)))
xr = (xd @ qa).astype(np.float32)
yr = (yd @ qb).astype(np.float32)
for m in ("cka", "svcca", "procrustes"):
    v = xf(m, x, y)
    close(xf(m, xr, y), v, 1e-5, f"{m} invariant to an orthogonal map of A")
    close(xf(m, x, yr), v, 1e-5, f"{m} invariant to an orthogonal map of B")
v = xf("pwcca", x, y)
close(xf("pwcca", x, yr), v, 1e-5,
      "PWCCA invariant to an orthogonal map of B (the side without weights)")
d = abs(xf("pwcca", xr, y) - v)
check(d > 1e-4, f"PWCCA not invariant on A, which carries its weights: moves {d:.3g}")

# Invertible linear maps: CCA (all directions kept) invariant, CKA not.
a = rng.standard_normal((p, p)) + 2 * np.eye(p)
b = rng.standard_normal((q, q)) + 2 * np.eye(q)
xa = (xd @ a).astype(np.float32)
yb = (yd @ b).astype(np.float32)
v = xf("svcca", x, y, "--keep", "1")
close(xf("svcca", xa, yb, "--keep", "1"), v, 1e-5,
      "mean CCA invariant to invertible maps of both sides")
d = abs(xf("cka", xa, yb) - xf("cka", x, y))
check(d > 1e-3, f"CKA not invariant to invertible maps: moves {d:.3g}")

# Rank-deficient sides: a duplicated and a constant column.
xdef = np.concatenate([x, x[:, :1], np.full((n, 1), 2, np.float32)], 1)
close(xf("svcca", xdef, y), svcca(xdef.astype(float), yd), 1e-6,
      "SVCCA of a rank-deficient side: the null directions are not kept")
close(xf("procrustes", xdef, y), procrustes(xdef.astype(float), yd), 1e-6,
      "Procrustes of a rank-deficient side = numpy reference")
write("def.xfs", xdef)
write("wide.xfs", xw)
write("wide2.xfs", yw)
xnan = x.copy()
xnan[17, 3] = np.nan
write("nan.xfs", xnan)
write("y.xfs", y)
