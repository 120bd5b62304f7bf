#!/usr/bin/python3
"""xf2torch: load an xf checkpoint into torch.nn, with no xf code.

    /usr/bin/python3 tools/xf2torch.py [--print-model] CKPT [IMAGES]

Builds the model of the checkpoint's "arch" (a preset or any spec string, as
in xf-train(1) and lib/nn.h), loads its tensors, and with an image stream
(a file or "-" for stdin; see xf-stream(5)) prints one line per image in eval
mode: i, y and the logits, tab-separated, the logits space-separated, as
xf-cat(1) prints the records of `xf-eval --features HEAD`.

It needs only tarfile, msgpack and torch (Debian: python3-torch,
python3-msgpack).  As a module:

    import xf2torch
    model, manifest = xf2torch.load("p.tar")     # eval mode
    logits = model(torch.from_numpy(x_uint8).float() / 255)

The model applies the checkpoint's input normalisation, if it has one
(input.mean.K, input.std.K), to that x / 255 itself, as xf does.
"""
import signal
import sys
import tarfile

import msgpack
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "mlp": "f512,f512,f",
    "cnn": "c32,c32,p,c64,c64,p,f256,f",
    "cnn-s": "c16,c16,p,c32,c32,p,f128,f",
    "cnn-bn": "c32,b,c32,b,p,c64,b,c64,b,p,f256,f",
    "resnet-8": "c16n,b,r16,r32s2,r64s2,g,f",
    "resnet-20": "c16n,b,r16,r16,r16,r32s2,r32,r32,r64s2,r64,r64,g,f",
    "resnet-18": "c64k7s2p3n,b,pk3s2p1,r64,r64,r128s2,r128,r256s2,r256,"
                 "r512s2,r512,g,f",
    "resnet-18-cifar": "c64n,b,r64,r64,r128s2,r128,r256s2,r256,r512s2,"
                       "r512,g,f",
    "resnet-34": "c64k7s2p3n,b,pk3s2p1,r64,r64,r64,r128s2,r128,r128,r128,"
                 "r256s2,r256,r256,r256,r256,r256,r512s2,r512,r512,g,f",
}


def _int(s, i):
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    if j == i:
        raise ValueError("spec item %r: want a number at %d" % (s, i))
    return int(s[i:j]), j


def _opts(it, j, keys, defaults):
    """The kK sS pP options of a conv, pool or block item from j on, and
    whether a trailing n (no bias) ends it."""
    vals = dict(defaults)
    while j < len(it) and it[j] in keys and it[j] != "n":
        vals[it[j]], j = _int(it, j + 1)
    nobias = it[j:] == "n" and "n" in keys
    if j != len(it) and not nobias:
        raise ValueError("spec item %r" % it)
    return vals, nobias


def parse_spec(spec):
    """The items of a spec: ("c", oc, k, s, p, bias), ("b",),
    ("p", k, s, p), ("r", oc, s), ("g",), ("f", n|None)."""
    spec = PRESETS.get(spec, spec)
    items = []
    for it in spec.split(","):
        if it.startswith("c"):
            oc, j = _int(it, 1)
            v, nobias = _opts(it, j, "kspn", {"k": 3, "s": 1, "p": None})
            p = v["k"] // 2 if v["p"] is None else v["p"]
            items.append(("c", oc, v["k"], v["s"], p, not nobias))
        elif it.startswith("p"):
            v, _ = _opts(it, 1, "ksp", {"k": 2, "s": None, "p": 0})
            items.append(("p", v["k"], v["s"] or v["k"], v["p"]))
        elif it.startswith("r"):
            oc, j = _int(it, 1)
            v, _ = _opts(it, j, "s", {"s": 1})
            items.append(("r", oc, v["s"]))
        elif it in ("b", "g", "f"):
            items.append((it,) if it != "f" else ("f", None))
        elif it.startswith("f"):
            n, j = _int(it, 1)
            if j != len(it):
                raise ValueError("spec item %r" % it)
            items.append(("f", n))
        else:
            raise ValueError("spec item %r" % it)
    if not items or items[-1] != ("f", None):
        raise ValueError("spec %r: no head (a final f)" % spec)
    return items


class BasicBlock(nn.Module):
    """He et al.'s basic block with torchvision's attribute names."""

    def __init__(self, c, oc, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c, oc, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(oc)
        self.conv2 = nn.Conv2d(oc, oc, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(oc)
        self.downsample = None
        if stride != 1 or c != oc:
            self.downsample = nn.Sequential(
                nn.Conv2d(c, oc, 1, stride, bias=False), nn.BatchNorm2d(oc))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else
                           self.downsample(x)))


class XfNet(nn.Module):
    """The network of lib/nn.h: conv [+ bn] + ReLU, max pools, residual
    blocks, global average pool, linear + ReLU, a linear head; modules named
    as in xf: conv1.., bn1.., fc1.. for plain stacks, torchvision's names
    (conv1, bn1, layer1.0.conv1, ..., fc) when the spec has blocks."""

    def __init__(self, spec, input_shape, n_classes, mean=None, std=None):
        super().__init__()
        c, h, w = input_shape
        # The checkpoint's input normalisation (formats/checkpoint.md,
        # input.mean.K and input.std.K), as torchvision's Normalize does
        # it; buffers outside the state dict, so that strict loading sees
        # only the network's own tensors.
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer("input_mean", torch.tensor(
                mean, dtype=torch.float32).view(1, c, 1, 1), persistent=False)
            self.register_buffer("input_std", torch.tensor(
                std, dtype=torch.float32).view(1, c, 1, 1), persistent=False)
        items = parse_spec(spec)
        residual = any(it[0] == "r" for it in items)
        self.ops = []          # (kind, module name or None, relu, args)
        counts = {"conv": 0, "bn": 0, "fc": 0}
        stage, block = 0, 0
        for item in items:
            kind = item[0]
            if kind == "c":
                _, oc, k, s, p, bias = item
                counts["conv"] += 1
                name = "conv%d" % counts["conv"]
                setattr(self, name, nn.Conv2d(c, oc, k, stride=s, padding=p,
                                              bias=bias))
                self.ops.append(["conv", name, True, None])
                c, h, w = oc, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            elif kind == "b":
                counts["bn"] += 1
                name = "bn%d" % counts["bn"]
                # PyTorch's defaults are xf's: eps 1e-5, momentum 0.1.
                setattr(self, name, nn.BatchNorm2d(c))
                self.ops[-1][2] = False        # the ReLU moves after the bn
                self.ops.append(["bn", name, True, None])
            elif kind == "p":
                _, k, s, p = item
                self.ops.append(["pool", None, False, (k, s, p)])
                h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            elif kind == "r":
                _, oc, s = item
                if s != 1 or oc != c or stage == 0:
                    stage, block = stage + 1, 0
                    setattr(self, "layer%d" % stage, nn.Sequential())
                else:
                    block += 1
                getattr(self, "layer%d" % stage).add_module(
                    str(block), BasicBlock(c, oc, s))
                self.ops.append(["block", "layer%d" % stage, False, block])
                c, h, w = oc, (h + 2 - 3) // s + 1, (w + 2 - 3) // s + 1
            elif kind == "g":
                self.ops.append(["gap", None, False, None])
                h, w = 1, 1
            else:
                n = item[1]
                if residual and n is None:
                    name = "fc"
                else:
                    counts["fc"] += 1
                    name = "fc%d" % counts["fc"]
                in_f = c * h * w
                out_f = n_classes if n is None else n
                setattr(self, name, nn.Linear(in_f, out_f))
                self.ops.append(["fc", name, n is not None, None])
                c, h, w = out_f, 1, 1

    def forward(self, x):
        if self.normalize:
            x = (x - self.input_mean) / self.input_std
        for kind, name, relu, arg in self.ops:
            if kind == "pool":
                k, s, p = arg
                x = F.max_pool2d(x, k, s, p)
                continue
            if kind == "gap":
                x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
                continue
            if kind == "block":
                x = getattr(self, name)[arg](x)
                continue
            if kind == "fc":
                x = torch.flatten(x, 1)        # C, H, W order, as xf
            x = getattr(self, name)(x)
            if relu:
                x = F.relu(x)
        return x


def normalization(manifest):
    """(mean, std) per channel from the meta keys input.mean.K and
    input.std.K, or (None, None) when the checkpoint has none."""
    meta = manifest.get("meta", {})
    c = manifest["input"][0]
    if not any(k.startswith(("input.mean.", "input.std.")) for k in meta):
        return None, None
    return ([float(meta["input.mean.%d" % k]) for k in range(c)],
            [float(meta["input.std.%d" % k]) for k in range(c)])


def load(path):
    """(model in eval mode, manifest) from an xf checkpoint file."""
    with tarfile.open(path, "r:") as t:
        manifest = msgpack.unpackb(t.extractfile("manifest.msgpack").read(),
                                   raw=False)
        if manifest.get("format") != "xf-checkpoint" or \
                manifest.get("version") != 1:
            raise ValueError("%s: not an xf checkpoint of version 1" % path)
        mean, std = normalization(manifest)
        model = XfNet(manifest["arch"], manifest["input"], manifest["classes"],
                      mean, std)
        state = {}
        for e in manifest["tensors"]:
            name = e["name"]
            if name.endswith(".momentum_buffer") or name.startswith("momentum."):
                continue
            data = t.extractfile(name).read()
            if e["dtype"] != "float32" or len(data) != e["bytes"]:
                raise ValueError("%s: tensor %s: bad dtype or size" % (path, name))
            state[name] = torch.frombuffer(bytearray(data), dtype=torch.float32) \
                .reshape(e["shape"]).clone()
    for name, buf in model.named_buffers():
        if name.endswith("num_batches_tracked"):
            state[name] = buf.clone()
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, manifest


def read_images(f):
    """(header, [(i, y, uint8 tensor (C, H, W))]) from an xf image stream."""
    unpacker = msgpack.Unpacker(f, raw=False, max_buffer_size=1 << 30)
    header = next(unpacker)
    if header.get("kind") != "images":
        raise ValueError("not an image stream: kind %r" % header.get("kind"))
    shape = header["shape"]
    recs = []
    for r in unpacker:
        x = torch.frombuffer(bytearray(r["x"]), dtype=torch.uint8).reshape(shape)
        recs.append((r["i"], r["y"], x))
    return header, recs


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # quiet when the reader goes
    args = [a for a in argv if a != "--print-model"]
    if len(args) not in (1, 2) or any(a.startswith("--") for a in args):
        sys.stderr.write("usage: xf2torch.py [--print-model] ckpt [images]\n")
        return 2
    model, _ = load(args[0])
    if "--print-model" in argv:
        print(model)
    if len(args) == 1:
        return 0
    if args[1] == "-":
        _, recs = read_images(sys.stdin.buffer)
    else:
        with open(args[1], "rb") as f:
            _, recs = read_images(f)
    out = sys.stdout
    with torch.no_grad():
        for at in range(0, len(recs), 256):
            part = recs[at:at + 256]
            x = torch.stack([r[2] for r in part]).float() / 255
            logits = model(x)
            for (i, y, _), l in zip(part, logits):
                out.write("%d\t%d\t%s\n" % (i, y, " ".join(
                    "%.9g" % v for v in l.tolist())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
