#!/bin/bash
# Per-channel input normalisation (TAP): xf-train --normalize stores mean
# and std as the meta keys input.mean.K and input.std.K
# (formats/checkpoint.md), every tool that runs the model applies
# (x / 255 - mean) / std, and torch agrees:
#   - the logits of a normalised plain model and of a normalised resnet-8
#     match torch, where torch gets its input from torchvision's own
#     transforms.Normalize on x / 255 (not from xf2torch's), to 1e-4;
#   - 3 SGD steps on one batch from the same checkpoint, normalised, match
#     torch in float64 to 1e-4 in every tensor;
#   - --init carries the parent's normalisation (and --normalize replaces
#     it), --resume keeps it to the byte, and a run without one, or with
#     mean 0 and std 1, writes no key;
#   - bad values in a checkpoint are exit 1 naming the key.
# Needs /usr/bin/python3 with torch, torchvision and msgpack (make deps).
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
py=/usr/bin/python3
norm=0.49,0.48,0.45/0.25,0.24,0.26

xf-import synthetic --shape 3,16,16 --count 24 -s 1 -o d.xfs 2>err
k=0
for case in c8,b,p,c12,f16,f:fc2 resnet-8:fc; do
	arch=${case%:*} head=${case#*:}
	k=$((k + 1))
	if xf-train -a "$arch" -b 8 --steps 3 -s $k --normalize $norm \
	        --save-init init.$k.tar -o m.$k.tar d.xfs 2>err &&
	    xf-eval -m m.$k.tar --features "$head" d.xfs 2>err | xf-cat >xf.$k.tsv 2>err &&
	    [ -s xf.$k.tsv ]; then
		pass "$arch: trains with --normalize and writes its logits"
	else
		not_ok "$arch: trains with --normalize and writes its logits"
	fi
done
xf-train -b 24 --steps 3 --init init.1.tar -o sgd.1.tar d.xfs 2>err

PYTHONPATH="$top/tools" "$py" -B - "$norm" <<'PY'
import sys
import torch
import torchvision.transforms as T
import xf2torch

torch.set_num_threads(1)
t = 2
m, s = sys.argv[1].split("/")
mean, std = [float(v) for v in m.split(",")], [float(v) for v in s.split(",")]
normalize = T.Normalize(mean, std)

def report(ok, msg):
    global t
    t += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", t, msg))

def rows(path):
    return torch.tensor([[float(v) for v in l.rstrip("\n").split("\t")[2].split()]
                         for l in open(path) if not l.startswith("i\t")])

def rel(a, b):
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-3)

with open("d.xfs", "rb") as f:
    _, recs = xf2torch.read_images(f)
x = torch.stack([r[2] for r in recs]).float() / 255
y = torch.tensor([r[1] for r in recs])

def bare(path):
    """The network alone, without xf2torch's normalisation."""
    model, man = xf2torch.load(path)
    net = xf2torch.XfNet(man["arch"], man["input"], man["classes"])
    net.load_state_dict(model.state_dict(), strict=True)
    return net.eval(), model, man

for k, name in ((1, "plain"), (2, "resnet-8")):
    t0 = t
    try:
        net, model, man = bare("m.%d.tar" % k)
        stored = [man["meta"]["input.%s.%d" % (w, c)] for w in ("mean", "std")
                  for c in range(3)]
        want = [torch.tensor(v, dtype=torch.float32).item() for v in mean + std]
        report(stored == want, "%s: input.mean.K and input.std.K hold the "
               "float32 values of --normalize" % name)
        with torch.no_grad():
            ref = net(normalize(x))
            r = rel(rows("xf.%d.tsv" % k), ref)
            r2 = rel(model(x), ref)
        report(r <= 1e-4, "%s: logits match torch on Normalize(x / 255) "
               "(max rel %.2g)" % (name, r))
        report(r2 <= 1e-6, "%s: xf2torch applies the normalisation (max rel "
               "%.2g)" % (name, r2))
    except Exception as e:
        while t < t0 + 3:
            report(False, "%s: %s" % (name, e))

try:
    net, _, _ = bare("init.1.tar")
    net = net.double().train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9,
                          weight_decay=5e-4)
    xn = normalize(x).double()
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xn), y).backward()
        opt.step()
    ours, _, _ = bare("sgd.1.tar")
    exact = {k: v for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    got = ours.state_dict()
    e, key = max((rel(got[k].double(), v), k) for k, v in exact.items())
    report(e <= 1e-4, "plain, normalised: 3 SGD steps match torch in float64 "
           "to 1e-4 (max rel %.2g at %s)" % (e, key))
except Exception as e:
    report(False, "SGD: %s" % e)
PY
n=$((n + 7))

meta() {	# meta CKPT: the input.* keys, sorted, one line
	"$py" -c 'import sys, tarfile, msgpack
t = tarfile.open(sys.argv[1])
m = msgpack.unpackb(t.extractfile("manifest.msgpack").read())["meta"]
print(" ".join("%s=%.6g" % (k, v) for k, v in sorted(m.items())
               if k.startswith("input.")) or "none")' "$1"
}
want="input.mean.0=0.49 input.mean.1=0.48 input.mean.2=0.45 input.std.0=0.25 input.std.1=0.24 input.std.2=0.26"
xf-train --init m.1.tar -b 8 --steps 2 -o ft.tar d.xfs 2>err
got=$(meta ft.tar)
if [ "$got" = "$want" ]; then pass "--init carries the normalisation"
else not_ok "--init carries the normalisation" "got $got"; fi
xf-train --init m.1.tar -b 8 --steps 2 --normalize 0.5/0.5 -o ft1.tar d.xfs 2>err; rc=$?
expect_err "--normalize of 1 channel on 3: exit 2" 2 "--normalize: normalisation of 1 channels, the model takes 3"
xf-train --init m.1.tar -b 8 --steps 2 --normalize 0.1,0.2,0.3/1,2,3 -o ft2.tar d.xfs 2>err
got=$(meta ft2.tar)
if [ "$got" = "input.mean.0=0.1 input.mean.1=0.2 input.mean.2=0.3 input.std.0=1 input.std.1=2 input.std.2=3" ]; then
	pass "--normalize with --init replaces the parent's"
else
	not_ok "--normalize with --init replaces the parent's" "got $got"
fi
xf-train -a c8,f -b 8 -e 2 -s 5 --normalize $norm -o full.tar d.xfs 2>err
xf-train -a c8,f -b 8 --steps 2 -s 5 --normalize $norm -o half.tar d.xfs 2>err
xf-train -e 2 --resume half.tar -o res.tar d.xfs 2>err
if [ -s res.tar ] && cmp -s res.tar full.tar; then
	pass "--resume keeps the normalisation: the bytes of one run"
else
	not_ok "--resume keeps the normalisation: the bytes of one run"
fi
xf-train -a c8,f -b 8 --steps 2 -s 5 -o none.tar d.xfs 2>err
xf-train -a c8,f -b 8 --steps 2 -s 5 --normalize 0,0,0/1,1,1 -o id.tar d.xfs 2>err
if [ "$(meta none.tar)" = none ] && cmp -s none.tar id.tar; then
	pass "no --normalize, or mean 0 and std 1: no key, the same bytes"
else
	not_ok "no --normalize, or mean 0 and std 1: no key, the same bytes"
fi
xf-eval -m none.tar d.xfs >e0 2>err
xf-eval -m half.tar d.xfs >e1 2>err
if [ -s e0 ] && [ -s e1 ] && ! cmp -s e0 e1; then
	pass "xf-eval applies it (same weights otherwise differ)"
else
	not_ok "xf-eval applies it"
fi

mani() {	# mani IN OUT PYTHON: IN with its meta m changed by PYTHON
	"$py" - "$1" "$2" "$3" <<'PY'
import io, msgpack, sys, tarfile
src, dst, code = sys.argv[1:4]
t = tarfile.open(src)
members = [(x.name, t.extractfile(x).read()) for x in t.getmembers()]
man = msgpack.unpackb(members[0][1], raw=False)
m = man["meta"]
exec(code)
members[0] = (members[0][0], msgpack.packb(man))
out = tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT)
for name, data in members:
    i = tarfile.TarInfo(name); i.size = len(data); out.addfile(i, io.BytesIO(data))
out.close()
PY
}
while IFS='|' read -r code want; do
	mani m.1.tar bad.tar "$code"
	xf-eval -m bad.tar d.xfs >out 2>err; rc=$?
	expect_err "$code: exit 1" 1 "bad.tar: $want"
done <<'EOF_BAD'
m["input.std.1"] = 0.0|meta input.mean, input.std: std of channel 1: want a finite number > 0
del m["input.std.2"]|meta input.std.2: missing
m["input.mean.3"] = 0.5|meta input.mean.3: the model takes 3 channels
m["input.mean.0"] = "x"|meta input.mean.0: not a number
m["input.std.x"] = 1.0|meta input.std.x: the model takes 3 channels
EOF_BAD
tap_done
