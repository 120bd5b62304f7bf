#!/bin/bash
# tools/torch2xf.py (TAP): PyTorch state dicts into xf checkpoints.  Its
# writer makes the C writer's bytes; a model built and trained in torch
# gives the same logits under xf-eval (1e-4 relative) for mlp and cnn-bn,
# by name and, from an nn.Sequential, by order, and for torchvision's
# resnet18 on xf's resnet-18 preset; xf -> xf2torch -> torch2xf
# gives the tensors back bit for bit; the analysis tools run on an imported
# model; bad state dicts (a pickle that carries code, a missing, extra or
# mis-shaped key) exit 1 with one line naming the key and write nothing.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3
t2x=$top/tools/torch2xf.py
cd "$tmp" || exit 1
export PYTHONPATH=$top/tools

if ! "$py" -c 'import torch, msgpack' 2>/dev/null; then
	skip "no python3-torch with msgpack"
	tap_done
	exit 0
fi

# 1. The writer: the manifest and tensors of C-written checkpoints, written
# again by torch2xf's writer, are the same bytes.
xf-import synthetic --count 40 --shape 3,16,16 -s 1 -o rgb.xfs
xf-import synthetic --count 40 -s 2 -o grey.xfs
xf-train -a cnn-bn -b 8 --steps 3 -o c-bn.tar rgb.xfs 2>err
xf-train -a mlp -b 8 --steps 3 -o c-mlp.tar grey.xfs 2>>err
for c in c-bn.tar c-mlp.tar; do
	"$py" - "$c" <<'PY'
import sys, tarfile, msgpack, torch2xf
path = sys.argv[1]
t = tarfile.open(path)
man = msgpack.unpackb(t.extractfile("manifest.msgpack").read(), raw=False)
tensors = [(e["name"], tuple(e["shape"]), t.extractfile(e["name"]).read())
           for e in man["tensors"]]
b = torch2xf.checkpoint_bytes(man["arch"], man["input"], man["classes"],
                              tensors, list(man["meta"].items()))
sys.exit(0 if open(path, "rb").read() == b else 1)
PY
	ok $? "writer: $c rewritten by torch2xf's writer is the same bytes"
done

# 2. Models made in torch: xf2torch.XfNet (xf's names) for cnn-bn and mlp,
# and an nn.Sequential (--by-order) for mlp, each trained a few steps in
# torch so batch-norm's running statistics are not trivial.  torch's logits
# in eval mode are the reference.
"$py" - <<'PY'
import msgpack, numpy as np, torch
import xf2torch
torch.manual_seed(0)
torch.set_num_threads(1)

def images(path):
    with open(path, "rb") as f:
        _, recs = xf2torch.read_images(f)
    return torch.stack([r[2] for r in recs]).float() / 255, \
        torch.tensor([r[1] for r in recs])

def train(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(4):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[:16]), y[:16]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return model(x).numpy()

x, y = images("rgb.xfs")
m = xf2torch.XfNet("cnn-bn", (3, 16, 16), 10)
np.save("torch-bn.npy", train(m, x, y))
torch.save(m.state_dict(), "bn.pt")

x, y = images("grey.xfs")
m = xf2torch.XfNet("mlp", (1, 28, 28), 10)
np.save("torch-mlp.npy", train(m, x, y))
torch.save(m.state_dict(), "mlp.pt")

seq = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512),
                          torch.nn.ReLU(), torch.nn.Linear(512, 512),
                          torch.nn.ReLU(), torch.nn.Linear(512, 10))
np.save("torch-seq.npy", train(seq, x, y))
torch.save(seq.state_dict(), "seq.pt")
PY
ok $? "torch: cnn-bn, mlp and an nn.Sequential trained and saved"

"$t2x" -a cnn-bn --input 3,16,16 -o bn.tar bn.pt 2>err
ok $? "torch2xf: cnn-bn by name"
"$t2x" -a mlp -o mlp.tar mlp.pt 2>>err
ok $? "torch2xf: mlp by name"
"$t2x" -a mlp --by-order -o seq.tar seq.pt 2>>err
ok $? "torch2xf: an nn.Sequential mlp by order"

logits_match() {
	local ckpt=$1 data=$2 ref=$3 head
	head=$(tar -tf "$ckpt" | grep '^fc[0-9]*\.bias$' | tail -1)
	xf-eval -m "$ckpt" --features "${head%.bias}" "$data" >feat.xfs 2>err &&
	"$py" - feat.xfs "$ref" <<'PY'
import sys, msgpack, numpy as np
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
next(u)
ours = np.array([np.frombuffer(r["x"], "<f4") for r in u])
ref = np.load(sys.argv[2])
worst = np.abs(ours - ref).max()
print("# max |xf - torch| %.3g, max |logit| %.3g" % (worst, np.abs(ref).max()))
sys.exit(0 if ours.shape == ref.shape and worst <= 1e-4 * np.abs(ref).max() else 1)
PY
}
logits_match bn.tar rgb.xfs torch-bn.npy
ok $? "cnn-bn trained in torch: xf-eval's logits are torch's to 1e-4"
logits_match mlp.tar grey.xfs torch-mlp.npy
ok $? "mlp trained in torch: xf-eval's logits are torch's to 1e-4"
logits_match seq.tar grey.xfs torch-seq.npy
ok $? "nn.Sequential trained in torch: xf-eval's logits are torch's to 1e-4"

tar -xOf bn.tar manifest.msgpack | "$py" -c '
import sys, msgpack, hashlib
m = msgpack.unpackb(sys.stdin.buffer.read(), raw=False)
sha = hashlib.sha256(open("bn.pt", "rb").read()).hexdigest()
assert m["arch"] == "c32,b,c32,b,p,c64,b,c64,b,p,f256,f", m["arch"]
assert m["input"] == [3, 16, 16] and m["classes"] == 10
assert m["meta"]["prov.source_sha256"] == sha, m["meta"]
assert m["meta"]["prov.source"].endswith("bn.pt"), m["meta"]
'
ok $? "manifest: arch, input, classes, and the source with its sha256"

# torchvision's resnet18, randomly initialised (batch-norm statistics and
# affines drawn too), onto xf's resnet-18 preset, which has its tensor names:
# logits on 3x64x64 images match torch's.
if "$py" -c 'import torchvision' 2>/dev/null; then
	xf-import synthetic --shape 3,64,64 --count 6 -s 5 -o r64.xfs
	"$py" - <<'PY'
import numpy as np, torch, torchvision
import xf2torch
torch.manual_seed(1)
m = torchvision.models.resnet18(num_classes=10)
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        mod.running_mean.uniform_(-0.1, 0.1); mod.running_var.uniform_(0.5, 1.5)
        mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.uniform_(-0.1, 0.1)
m.eval()
torch.save(m.state_dict(), "r18.pt")
with open("r64.xfs", "rb") as f:
    _, recs = xf2torch.read_images(f)
with torch.no_grad():
    np.save("torch-r18.npy", m(torch.stack([r[2] for r in recs]).float() / 255).numpy())
PY
	"$t2x" -a resnet-18 --input 3,64,64 -o r18.tar r18.pt 2>err &&
	    xf-eval -m r18.tar --features fc r64.xfs >feat.xfs 2>>err && "$py" - <<'PY'
import sys, msgpack, numpy as np
u = msgpack.Unpacker(open("feat.xfs", "rb"), raw=False); next(u)
ours = np.array([np.frombuffer(r["x"], "<f4") for r in u])
ref = np.load("torch-r18.npy")
worst = np.abs(ours - ref).max()
print("# max |xf - torch| %.3g, max |logit| %.3g" % (worst, np.abs(ref).max()))
sys.exit(0 if ours.shape == ref.shape and worst <= 1e-4 * np.abs(ref).max() else 1)
PY
	ok $? "torchvision resnet18 -> torch2xf -a resnet-18: xf-eval's logits are torch's to 1e-4"
	# A user's CIFAR resnet18 (a 3x3 stride-1 conv1, no max pool) onto
	# resnet-18-cifar, and torchvision's resnet34 onto resnet-34, by name.
	xf-import synthetic --shape 3,32,32 --count 6 -s 6 -o r32.xfs
	"$py" - <<'PY'
import numpy as np, torch, torchvision
import xf2torch
torch.manual_seed(2)
c18 = torchvision.models.resnet18(num_classes=10)
c18.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
c18.maxpool = torch.nn.Identity()
r34 = torchvision.models.resnet34(num_classes=10)
with open("r32.xfs", "rb") as f:
    _, recs = xf2torch.read_images(f)
x = torch.stack([r[2] for r in recs]).float() / 255
for name, m in (("c18", c18), ("r34", r34)):
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1); mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.uniform_(-0.1, 0.1)
    m.eval()
    torch.save(m.state_dict(), name + ".pt")
    with torch.no_grad():
        np.save("torch-%s.npy" % name, m(x).numpy())
PY
	for pair in c18:resnet-18-cifar r34:resnet-34; do
		f=${pair%%:*} a=${pair#*:}
		"$t2x" -a "$a" --input 3,32,32 -o "$f.tar" "$f.pt" 2>err &&
		    xf-eval -m "$f.tar" --features fc r32.xfs >feat.xfs 2>>err &&
		    "$py" - "$f" <<'PY'
import sys, msgpack, numpy as np
u = msgpack.Unpacker(open("feat.xfs", "rb"), raw=False); next(u)
ours = np.array([np.frombuffer(r["x"], "<f4") for r in u])
ref = np.load("torch-%s.npy" % sys.argv[1])
worst = np.abs(ours - ref).max()
print("# max |xf - torch| %.3g, max |logit| %.3g" % (worst, np.abs(ref).max()))
sys.exit(0 if ours.shape == ref.shape and worst <= 1e-4 * np.abs(ref).max() else 1)
PY
		ok $? "torchvision $f.pt -> torch2xf -a $a: xf-eval's logits are torch's to 1e-4"
	done
else
	skip "no python3-torchvision"
fi

# 3. xf -> xf2torch -> torch.save -> torch2xf: the same tensors, bit for bit.
for c in c-bn.tar c-mlp.tar; do
	arch=$(tar -xOf "$c" manifest.msgpack | "$py" -c 'import sys, msgpack; m = msgpack.unpackb(sys.stdin.buffer.read()); print(m["arch"]); print(",".join(map(str, m["input"])))')
	"$py" -c 'import sys, torch, xf2torch
m, _ = xf2torch.load(sys.argv[1]); torch.save(m.state_dict(), "rt.pt")' "$c" &&
	"$t2x" -a "$(echo "$arch" | head -1)" --input "$(echo "$arch" | tail -1)" -o rt.tar rt.pt 2>err &&
	"$py" - "$c" rt.tar <<'PY'
import sys, tarfile, msgpack
def tensors(p):
    t = tarfile.open(p)
    m = msgpack.unpackb(t.extractfile("manifest.msgpack").read(), raw=False)
    return [(e["name"], e["shape"], t.extractfile(e["name"]).read())
            for e in m["tensors"] if not e["name"].endswith("momentum_buffer")]
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
PY
	ok $? "round trip $c: xf2torch then torch2xf gives the same tensors"
done

# 4. The analysis tools on the torch-trained model.
check "xf-eval on the imported cnn-bn" xf-eval -m bn.tar rgb.xfs
check "xf-cka on the imported cnn-bn against an xf one" \
    xf-cka -a bn.tar -b c-bn.tar rgb.xfs
check "xf-interp between the imported and an xf cnn-bn" \
    xf-interp -n 3 -m bn.tar -m c-bn.tar rgb.xfs
check "xf-critic on the imported mlp" \
    xf-critic --alphas 2 --sigmas 2 -k 1 --init c-mlp.tar -m mlp.tar grey.xfs

# 5. Bad input: exit 1, one line naming the file and key, no output file.
"$py" - <<'PY'
import pickle, collections, torch
class Evil:
    def __reduce__(self):
        return (open, ("pwned", "w"))
torch.save({"fc1.weight": Evil()}, "evil.pt")
sd = torch.load("mlp.pt")
missing = collections.OrderedDict(sd); del missing["fc2.bias"]
torch.save(missing, "missing.pt")
extra = collections.OrderedDict(sd); extra["fc9.weight"] = torch.zeros(2)
torch.save(extra, "extra.pt")
wrong = collections.OrderedDict(sd); wrong["fc2.weight"] = torch.zeros(512, 511)
torch.save(wrong, "wrong.pt")
ints = collections.OrderedDict(sd); ints["fc1.bias"] = torch.zeros(512, dtype=torch.int64)
torch.save(ints, "ints.pt")
nan = collections.OrderedDict(sd); nan["fc3.bias"] = torch.full((10,), float("nan"))
torch.save(nan, "nan.pt")
open("empty.pt", "wb").close()
PY
# The payload is live: a plain pickle.load would run it.
"$py" -c 'import torch; torch.load("evil.pt")' >/dev/null 2>&1
[ -e pwned ]
ok $? "control: torch.load without weights_only runs evil.pt's code"
rm -f pwned
run() { "$t2x" "$@" >out 2>err; rc=$?; }
err_table torch2xf '-a mlp -o x.tar' <<'EOF'
1|evil.pt: refused by torch.load(weights_only=True)|evil.pt
1|missing.pt: key fc2.bias: missing|missing.pt
1|extra.pt: key fc9.weight: unexpected|extra.pt
1|wrong.pt: key fc2.weight: shape 512x511, want 512x512|wrong.pt
1|ints.pt: key fc1.bias: dtype int64|ints.pt
1|nan.pt: key fc3.bias: element 0 is nan|nan.pt
1|empty.pt: not a torch.save file|empty.pt
1|nosuch.pt: No such file|nosuch.pt
1|key for fc3.bias (tensor 6 of 6): missing|--by-order missing.pt
1|key 1.weight (xf fc1.weight): shape 512x784, want 512x3|--input 3,1,1 --by-order seq.pt
2|that is torchvision's name; xf's preset with its names and layout is -a resnet-18|-a resnet18 seq.pt
2|unknown option|--nosuch mlp.pt
2|--normalize 1,2/3,4: want 1 finite means and 1 positive stds|--normalize 1,2/3,4 mlp.pt
2|--normalize 0.5/0: want 1 finite means and 1 positive stds|--normalize 0.5/0 mlp.pt
EOF
[ ! -e pwned ]
ok $? "evil.pt's code never ran"

# torchvision's resnet18 with ImageNet's input normalisation: --normalize
# stores it, xf-eval applies it, and the logits match torchvision's fed by
# its own transforms.Normalize.
"$py" - <<'PY' >norm.ref 2>err
import numpy as np, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=10).eval()
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
torch.save(m.state_dict(), "r18.pt")
x = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
np.save("rx.npy", x)
np.save("ry.npy", np.arange(4))
norm = torchvision.transforms.Normalize([0.485, 0.456, 0.406],
                                        [0.229, 0.224, 0.225])
with torch.no_grad():
    out = m(norm(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255))
for row in out.tolist():
    print(" ".join("%.9g" % v for v in row))
PY
"$t2x" -a resnet-18 --input 3,64,64 --classes 10 \
    --normalize 0.485,0.456,0.406/0.229,0.224,0.225 -o r18n.tar r18.pt 2>>err &&
xf-import npy rx.npy ry.npy -o rx.xfs 2>>err &&
xf-eval -m r18n.tar --features fc rx.xfs 2>>err | xf-cat 2>>err |
    tail -n +2 | cut -f3 >norm.xf
"$py" - <<'PY'
import sys
try:
    a = [[float(v) for v in l.split()] for l in open("norm.xf")]
    b = [[float(v) for v in l.split()] for l in open("norm.ref")]
    ok = len(a) == len(b) == 4 and all(len(r) == 10 for r in a)
    d = max(abs(u - v) for r, s in zip(a, b) for u, v in zip(r, s)) if ok else 1
    s = max(abs(v) for r in b for v in r) if ok else 1
except (OSError, ValueError):
    ok, d, s = False, 1, 1
sys.exit(0 if ok and d <= 1e-4 * s else 1)
PY
ok $? "torchvision resnet18 with --normalize (ImageNet's): xf-eval's logits match torchvision's through transforms.Normalize"
ls x.tar* >/dev/null 2>&1
[ $? != 0 ]
ok $? "no output file after the refusals"

tap_done
