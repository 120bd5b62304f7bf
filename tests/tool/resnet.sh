#!/bin/bash
# Residual networks against PyTorch (TAP).  tools/xf2torch.py builds the
# same network in torch.nn from an xf checkpoint, and torchvision's own
# resnet18 loads xf's resnet-18 with strict=True.  Checked:
#   - logits of resnet-8, resnet-20, resnet-18, resnet-18-cifar and a spec
#     with a padded max pool, in eval mode, to 1e-4 relative;
#   - the weights and running stats after 3 SGD steps (momentum 0.9, weight
#     decay 5e-4 on every parameter, batch-norm parameters included, as
#     torch.optim.SGD applies it to one parameter group) from the same
#     checkpoint on a one-batch stream, batch norm in train mode (momentum
#     0.1, running_var from the unbiased variance), against torch in
#     float64: every entry to 1e-4 relative for resnet-8 and a small spec.
#     resnet-20 and resnet-18 amplify rounding from step to step (torch's
#     own float32 run strays 0.1-0.3 from float64 in 3 steps on these
#     batches), and a single ReLU whose input rounds to the other side of 0
#     moves a few entries of the tensors below it by percents (a unit of
#     resnet-18's layer2.1.bn1 sits 4e-7 from 0 in float64, and float32
#     puts it on the other side, which shifts every weight gradient below
#     it): so they take one step, and the update of all tensors together
#     must match to 5e-3 in relative L2 (a lost branch or a wrong shortcut
#     is off by O(1));
#   - the average pool divides by H*W (adaptive_avg_pool2d(x, 1));
#   - seeded residual runs give the same bytes at -j1 and -j2 and across a
#     --resume.
# Needs /usr/bin/python3 with torch, torchvision and msgpack (make deps).
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
py=/usr/bin/python3

# name | arch | SGD steps | xf-import synthetic options
cases='resnet-8|resnet-8|3|--shape 3,32,32 --count 24 -s 1
resnet-20|resnet-20|1|--count 24 -s 2
resnet-18|resnet-18|1|--shape 3,64,64 --count 8 -s 3
resnet-18-cifar|resnet-18-cifar|1|--shape 3,32,32 --count 8 -s 4
pool|c8k5s2p2n,b,pk3s2p1,r8,r12s2,g,f12,f|3|--shape 3,17,15 --num-classes 4 --count 24 -s 5'

k=0
while IFS='|' read -r name arch steps opts; do
	k=$((k + 1))
	echo "$steps" >steps.$k
	echo "$name" >name.$k
	# shellcheck disable=SC2086
	if xf-import synthetic $opts -o data.$k.xfs 2>err &&
	    xf-train -a "$arch" -b 8 --steps 3 -s $k --save-init init.$k.tar \
	        -o m.$k.tar data.$k.xfs 2>err &&
	    xf-eval -m m.$k.tar --features fc data.$k.xfs 2>err |
	        xf-cat >xf.$k.tsv 2>err && [ -s xf.$k.tsv ]; then
		pass "$name: xf trains, and writes its logits"
	else
		not_ok "$name: xf trains, and writes its logits"
	fi
	# One batch of all the data, 3 steps: torch gets the same batch.
	nrec=$(xf-cat data.$k.xfs | tail -n +2 | wc -l)
	if xf-train -b "$nrec" --steps "$steps" --init init.$k.tar \
	    -o sgd.$k.tar data.$k.xfs 2>err && [ -s sgd.$k.tar ]; then
		pass "$name: $steps SGD steps on one batch"
	else
		not_ok "$name: $steps SGD steps on one batch"
	fi
done <<EOF_CASES
$cases
EOF_CASES
# resnet-34, torchvision's resnet34 layout, on the CIFAR case's images.
xf-train -a resnet-34 -b 8 --steps 1 -s 7 -o r34.tar data.4.xfs 2>err &&
    xf-eval -m r34.tar --features fc data.4.xfs 2>err | xf-cat >xf.r34.tsv 2>err

PYTHONPATH="$top/tools" "$py" -B - "$k" <<'PY'
import sys
import torch
import torchvision
import xf2torch

torch.set_num_threads(1)
n_cases = int(sys.argv[1])
t = 2 * n_cases

def report(ok, msg):
    global t
    t += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", t, msg))

def rows(path):
    out = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0] != "i":
            out.append([float(v) for v in f[2].split()])
    return torch.tensor(out)

def batch(path):
    with open(path, "rb") as f:
        _, recs = xf2torch.read_images(f)
    x = torch.stack([r[2] for r in recs]).float() / 255
    y = torch.tensor([r[1] for r in recs])
    return x, y

def rel(a, b):
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-3)

for k in range(1, n_cases + 1):
    name = open("name.%d" % k).read().strip()
    steps = int(open("steps.%d" % k).read())
    try:
        model, _ = xf2torch.load("m.%d.tar" % k)
        x, y = batch("data.%d.xfs" % k)
        with torch.no_grad():
            logits = model(x)
        r = rel(rows("xf.%d.tsv" % k), logits)
        report(r <= 1e-4, "%s: logits match torch (max rel %.2g)" % (name, r))
    except Exception as e:
        report(False, "%s: logits: %s" % (name, e))
    try:
        x, y = batch("data.%d.xfs" % k)

        def sgd(dtype):
            model, _ = xf2torch.load("init.%d.tar" % k)
            model = model.to(dtype).train()
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                                  weight_decay=5e-4)
            for _ in range(steps):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x.to(dtype)),
                                                  y).backward()
                opt.step()
            return {key: v.double() for key, v in model.state_dict().items()
                    if not key.endswith("num_batches_tracked")}

        def worst(a, b):
            return max((rel(a[key], b[key]), key) for key in b)

        def update_error(a, b):
            # ||update_xf - update_exact|| / ||update_exact|| over every
            # parameter and buffer together.
            num = den = 0.0
            for key in b:
                num += float((a[key] - b[key]).norm()) ** 2
                den += float((b[key] - init[key]).norm()) ** 2
            return (num / den) ** 0.5

        init, _ = xf2torch.load("init.%d.tar" % k)
        init = {key: v.double() for key, v in init.state_dict().items()}
        exact, t32 = sgd(torch.float64), sgd(torch.float32)
        ours, _ = xf2torch.load("sgd.%d.tar" % k)
        ours = {key: v.double() for key, v in ours.state_dict().items()}
        if steps > 1:
            e_xf, e_t32 = worst(ours, exact), worst(t32, exact)
            report(e_xf[0] <= 1e-4, "%s: after %d SGD steps every tensor "
                   "matches torch in float64 to 1e-4 (xf max rel %.2g at %s; "
                   "torch float32 %.2g)" % (name, steps, e_xf[0], e_xf[1],
                                            e_t32[0]))
        else:
            e_xf, e_t32 = update_error(ours, exact), update_error(t32, exact)
            report(e_xf <= 5e-3, "%s: after 1 SGD step the whole update "
                   "matches torch in float64 to 5e-3 in relative L2 (xf %.2g, "
                   "torch float32 %.2g)" % (name, e_xf, e_t32))
    except Exception as e:
        report(False, "%s: SGD: %s" % (name, e))

# torchvision's resnet18 takes xf's resnet-18 as it is.
try:
    net = torchvision.models.resnet18(num_classes=10)
    ours, man = xf2torch.load("m.3.tar")
    net.load_state_dict(ours.state_dict(), strict=True)
    net.eval()
    x, _ = batch("data.3.xfs")
    with torch.no_grad():
        r = rel(rows("xf.3.tsv"), net(x))
    report(r <= 1e-4, "torchvision resnet18 loads resnet-18 with strict=True "
           "and its logits match (max rel %.2g)" % r)
except Exception as e:
    report(False, "torchvision resnet18: %s" % e)

# A user's CIFAR resnet18, torchvision's with a 3x3 stride-1 conv1 and no
# max pool, takes xf's resnet-18-cifar as it is; torchvision's resnet34
# takes resnet-34.
def cifar18():
    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = torch.nn.Identity()
    return net

for label, make, ckpt, tsv in (
        ("resnet18 with a 3x3 stem and no max pool", cifar18, "m.4.tar",
         "xf.4.tsv"),
        ("resnet34", lambda: torchvision.models.resnet34(num_classes=10),
         "r34.tar", "xf.r34.tsv")):
    try:
        net = make()
        ours, man = xf2torch.load(ckpt)
        net.load_state_dict(ours.state_dict(), strict=True)
        net.eval()
        x, _ = batch("data.4.xfs")
        with torch.no_grad():
            r = rel(rows(tsv), net(x))
        report(r <= 1e-4, "torchvision %s loads %s (%s) with strict=True and "
               "its logits match (max rel %.2g)" % (label, ckpt, man["arch"], r))
    except Exception as e:
        report(False, "torchvision %s: %s" % (label, e))
PY
n=$((4 * k + 3))

# Determinism: threads and resume.
xf-import synthetic --shape 3,16,16 --count 64 -s 9 -o d.xfs 2>err
xf-train -a resnet-8 -b 16 -e 2 -s 3 -j 1 -o j1.tar d.xfs 2>err
xf-train -a resnet-8 -b 16 -e 2 -s 3 -j 2 -o j2.tar d.xfs 2>err
if [ -s j1.tar ] && [ -s j2.tar ] && cmp -s j1.tar j2.tar; then
	pass "resnet-8: -j1 and -j2 give the same bytes"
else
	not_ok "resnet-8: -j1 and -j2 give the same bytes"
fi
xf-train -a resnet-8 -b 16 -e 1 -s 3 -o half.tar d.xfs 2>err
xf-train -e 2 --resume half.tar -o resumed.tar d.xfs 2>err
if [ -s resumed.tar ] && [ -s j1.tar ] && cmp -s resumed.tar j1.tar; then
	pass "resnet-8: 1 epoch, resume to 2 gives the bytes of 2 straight"
else
	not_ok "resnet-8: 1 epoch, resume to 2 gives the bytes of 2 straight"
fi
tap_done
