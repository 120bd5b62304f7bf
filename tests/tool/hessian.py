"""xf-hessian against torch on the same model and batch, loaded through
tools/xf2torch.py: the whole Hessian by torch.autograd.functional.hessian
(float64) gives the top eigenvalues, the trace and each module's block;
H v of xf-hessian --hvp is compared with torch.autograd.functional.hvp.
Prints PASS|FAIL lines.
Usage: hessian.py XF_TOP MODEL V HV DATA RESULTS.tsv"""
import csv
import sys
import numpy as np
import torch
import torch.nn.functional as F

top, model_path, v_path, hv_path, data_path, res_path = sys.argv[1:7]
sys.path.insert(0, top + "/tools")
import xf2torch

model, _ = xf2torch.load(model_path)
vmodel, _ = xf2torch.load(v_path)
hvmodel, _ = xf2torch.load(hv_path)
with open(data_path, "rb") as f:
    _, recs = xf2torch.read_images(f)
x = (torch.stack([r[2] for r in recs]).float() / 255).double()
y = torch.tensor([r[1] for r in recs])
model.double()
names = [n for n, _ in model.named_parameters()]
params = tuple(p.detach().clone() for _, p in model.named_parameters())
shapes = [p.shape for p in params]
sizes = [p.numel() for p in params]


def loss(*ps):
    return F.cross_entropy(torch.nn.utils.stateless.functional_call(
        model, dict(zip(names, ps)), (x,)), y)


def flat_loss(theta):
    parts = torch.split(theta, sizes)
    return loss(*(t.reshape(s) for t, s in zip(parts, shapes)))


def check(cond, what):
    print(("PASS " if cond else "FAIL ") + what)


theta = torch.cat([p.flatten() for p in params])
hess = torch.autograd.functional.hessian(flat_loss, theta).numpy()
hess = (hess + hess.T) / 2
ev = np.linalg.eigvalsh(hess)[::-1]

rows = list(csv.DictReader(open(res_path), delimiter="\t"))
# Module blocks: the parameter ranges of each module's tensors.
offs, at = {}, 0
for n, s in zip(names, sizes):
    mod = n.split(".")[0]
    lo, hi = offs.get(mod, (at, at))
    offs[mod] = (lo, at + s)
    at += s
for r in rows:
    m, q, i, v = r["module"], r["quantity"], int(r["index"]), float(r["value"])
    if m == "all":
        h = hess
    else:
        lo, hi = offs[m]
        h = hess[lo:hi, lo:hi]
    if q == "eigenvalue":
        # The top eigenvalue within 1% relative; the others, and the
        # blocks', within the products' stated error, 2e-3 lambda_1.
        want = np.linalg.eigvalsh(h)[::-1][i - 1]
        d = abs(v - want)
        if m == "all" and i == 1:
            check(d < 1e-2 * abs(want), f"top eigenvalue {v:.6g} vs torch "
                  f"{want:.6g}, relative {d / abs(want):.1e} (bound 1e-2)")
        else:
            check(d < 2e-3 * ev[0], f"{m}: eigenvalue {i} {v:.6g} vs torch "
                  f"{want:.6g}: error {d / ev[0]:.1e} of lambda_1 (bound 2e-3)")
    else:
        want, se = np.trace(h), float(r["error"])
        check(abs(v - want) <= 4 * se and se < 0.5 * abs(want),
              f"{m}: Hutchinson trace {v:.6g} +- {se:.2g} vs torch {want:.6g}"
              f" (within 4 standard errors)")

vs = tuple(p.detach().double() for _, p in vmodel.named_parameters())
want = torch.cat([t.flatten() for t in
                  torch.autograd.functional.hvp(loss, params, vs)[1]])
got = torch.cat([p.detach().double().flatten()
                 for _, p in hvmodel.named_parameters()])
# The stated bound, |Hv - H v exact| <= 2e-3 lambda_1 |v|: relative to |Hv|
# the error can be large in flat directions, where Hv itself is small.
v = torch.cat([t.flatten() for t in vs])
err = float((got - want).norm() / (ev[0] * v.norm()))
rel = float((got - want).norm() / want.norm())
check(err < 2e-3, f"H v by central differences vs torch hvp: error "
      f"{err:.2e} of lambda_1 |v| (bound 2e-3; {rel:.2e} of |Hv|)")
