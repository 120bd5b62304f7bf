#!/usr/bin/python3
"""torch2xf: a PyTorch state_dict into an xf checkpoint.

    torch2xf.py -a ARCH [--by-order] [--classes K] [--input C,H,W]
                [--key NAME] [--normalize M1,..,MC/S1,..,SC] -o FILE
                STATE_DICT

Reads STATE_DICT (a file written by torch.save(model.state_dict())) with
torch.load(weights_only=True): a pickle that would run code when loaded is
refused, never run.  ARCH is an xf preset (mlp, cnn, cnn-s, cnn-bn, the
residual resnet-8, resnet-20, resnet-18, resnet-18-cifar, resnet-34) or
spec string, as in xf-train(1); the tensors must be exactly that network's,
with xf's names (conv1.weight, bn1.running_mean, fc2.bias,
layer1.0.conv1.weight, ...; the names of xf2torch.XfNet) or, with
--by-order, in xf's order under any names (an nn.Sequential's "0.weight",
"3.bias", ...).  xf's resnet-18 and resnet-34 have torchvision's names and
layout, so a state dict of torchvision's resnet18 or resnet34 goes in by
name: -a resnet-18 --input 3,224,224; resnet18 with a 3x3 stride-1 conv1
and no max pool (the CIFAR variant) is -a resnet-18-cifar.  BatchNorm's num_batches_tracked
is dropped.  A missing, unexpected or mis-shaped key is one line naming it
and exit 1; nothing is skipped.

The checkpoint (formats/checkpoint.md) is the one xf's C writer makes for
the same tensors, byte for byte: ustar members with mtime 0, mode 0644 and
no owner names, the msgpack manifest first.  Its meta records where it came
from: prov.source (this command line) and prov.source_sha256 (the state
dict file's sha256).  --normalize gives the per-channel input
normalisation the model was trained with (torchvision's Normalize: channel
K enters as (x/255 - MK) / SK; for ImageNet weights
0.485,0.456,0.406/0.229,0.224,0.225), stored as the meta keys
input.mean.K and input.std.K that every xf tool applies
(formats/checkpoint.md); without it the model is fed x/255.  -o - writes to standard output; a file is
written to a temporary file beside it, fsynced and renamed.

Exit status: 0 success, 1 bad or refused input, 2 usage.
"""
import hashlib
import math
import os
import pickle
import struct
import sys
import tempfile

import msgpack

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import xf2torch  # noqa: E402  (the xf network in torch.nn, beside this file)

USAGE = ("usage: torch2xf.py -a ARCH [--by-order] [--classes K] "
         "[--input C,H,W]\n"
         "                   [--key NAME] [--normalize M1,..,MC/S1,..,SC] "
         "-o FILE STATE_DICT\n")

# torchvision's architecture names are not xf's: the xf preset of each has
# its tensor names and layout, so its state dict goes in by name there.
RESIDUAL = {"resnet18": "resnet-18", "resnet34": "resnet-34"}


class Refused(Exception):
    """Bad input: one line, exit 1."""


class Usage(Exception):
    """A bad command line: one line (and the usage, when asked), exit 2."""

    def __init__(self, msg, show_usage=False):
        super().__init__(msg)
        self.show_usage = show_usage


# ---- the checkpoint writer: libarchive's ustar, as lib/ckpt.c makes it ----

def _octal(value, width):
    """A numeric ustar field as libarchive writes it: zero-padded octal,
    then a space and a NUL (width - 2 digits)."""
    return b"%0*o \0" % (width - 2, value)


def _ustar_header(name, size):
    raw = name.encode()
    if len(raw) > 100:
        raise Refused("member name %s: over 100 bytes" % name)
    h = bytearray(512)
    h[0:len(raw)] = raw
    h[100:108] = _octal(0o644, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = b"%011o " % size
    h[136:148] = b"%011o " % 0
    h[148:156] = b" " * 8
    h[156:157] = b"0"
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[329:337] = _octal(0, 8)
    h[337:345] = _octal(0, 8)
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def manifest_bytes(arch, input_shape, classes, tensors, meta):
    """The manifest in lib/ckpt.c's key order; tensors is [(name, shape)],
    meta [(key, int | float | str)]."""
    return msgpack.packb({
        "format": "xf-checkpoint",
        "version": 1,
        "arch": arch,
        "input": list(input_shape),
        "classes": classes,
        "tensors": [{"name": n, "dtype": "float32", "shape": list(s),
                     "bytes": 4 * math.prod(s)} for n, s in tensors],
        "meta": dict(meta),
    }, use_bin_type=True)


def checkpoint_bytes(arch, input_shape, classes, tensors, meta):
    """The whole tar; tensors is [(name, shape, little-endian float32
    bytes)]."""
    man = manifest_bytes(arch, input_shape, classes,
                         [(n, s) for n, s, _ in tensors], meta)
    out = []
    for name, data in [("manifest.msgpack", man)] + \
            [(n, d) for n, _, d in tensors]:
        out.append(_ustar_header(name, len(data)))
        out.append(data)
        out.append(b"\0" * (-len(data) % 512))
    out.append(b"\0" * 1024)
    return b"".join(out)


def write_atomic(path, data):
    """path "-" is stdout; else a temporary file beside path, fsync, rename,
    fsync of the directory, as xf_ckpt_write does."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# ---- the state dict ----

def _shape(s):
    return "x".join(str(d) for d in s) if len(s) else "scalar"


def load_state_dict(path, key):
    """(state_dict, sha256 hex) from a torch.save file, loaded with
    weights_only=True."""
    import torch
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise Refused("%s: %s" % (path, e.strerror))
    digest = hashlib.sha256(blob).hexdigest()
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise Refused("%s: refused by torch.load(weights_only=True), not "
                      "run: %s" % (path, first[:200]))
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise Refused("%s: not a torch.save file: %s" % (path, first[:200]))
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise Refused("%s: no key %s at the top level" % (path, key))
        obj = obj[key]
    if not isinstance(obj, dict):
        raise Refused("%s: a %s, not a state_dict (a dict of tensors)" %
                      (path, type(obj).__name__))
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise Refused("%s: key %s: a %s, not a tensor (give --key for a "
                          "state_dict inside a dict)" %
                          (path, k, type(v).__name__))
    return obj, digest


def xf_tensors(arch, input_shape, classes):
    """[(name, shape)] of the xf network, in the C model's order."""
    model = xf2torch.XfNet(arch, input_shape, classes)
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")]


def _weights(sd):
    return [(k, v) for k, v in sd.items()
            if not k.endswith(".num_batches_tracked")
            and k != "num_batches_tracked"]


def head_classes(arch, input_shape, sd, by_order, path):
    """The class count: the head's rows."""
    if by_order:
        two_d = [v for _, v in _weights(sd) if v.dim() == 2]
        if not two_d:
            raise Refused("%s: no linear layer to take the class count from" %
                          path)
        return int(two_d[-1].shape[0])
    # The head is the xf network's last linear layer ("fc3", or "fc" in a
    # residual network); a network of one class names it.
    probe = xf2torch.XfNet(arch, input_shape, 1)
    head = [k for k, v in probe.state_dict().items() if v.dim() == 2][-1]
    if head not in sd:
        raise Refused("%s: key %s: missing" % (path, head))
    return int(sd[head].shape[0])


def convert(sd, want, by_order, path):
    """[(name, shape, bytes)] in xf's order, checked strictly."""
    import torch
    if by_order:
        got = _weights(sd)
        for i, (name, shape) in enumerate(want):
            if i >= len(got):
                raise Refused("%s: key for %s (tensor %d of %d): missing" %
                              (path, name, i + 1, len(want)))
        if len(got) > len(want):
            raise Refused("%s: key %s: unexpected (xf's network has %d "
                          "tensors)" % (path, got[len(want)][0], len(want)))
        pairs = [(name, shape, got[i][0], got[i][1])
                 for i, (name, shape) in enumerate(want)]
    else:
        names = {n for n, _ in want}
        for k in sd:
            base = k.rsplit(".", 1)[0]
            if k.endswith(".num_batches_tracked") and base + ".weight" in names:
                continue
            if k not in names:
                raise Refused("%s: key %s: unexpected" % (path, k))
        for name, _ in want:
            if name not in sd:
                raise Refused("%s: key %s: missing" % (path, name))
        pairs = [(name, shape, name, sd[name]) for name, shape in want]
    out = []
    for name, shape, key, t in pairs:
        label = key if key == name else "%s (xf %s)" % (key, name)
        if tuple(t.shape) != tuple(shape):
            raise Refused("%s: key %s: shape %s, want %s" %
                          (path, label, _shape(t.shape), _shape(shape)))
        if not t.is_floating_point():
            raise Refused("%s: key %s: dtype %s, want a floating type" %
                          (path, label, str(t.dtype).replace("torch.", "")))
        t = t.detach().to(torch.float32).contiguous()
        bad = (~torch.isfinite(t)).flatten().nonzero()
        if len(bad):
            j = int(bad[0])
            raise Refused("%s: key %s: element %d is %s" %
                          (path, label, j, float(t.flatten()[j])))
        out.append((name, shape, t.numpy().astype("<f4").tobytes()))
    return out


def parse_args(argv):
    opts = {"arch": None, "by_order": False, "classes": None,
            "input": (1, 28, 28), "key": None, "out": None}
    args = []
    i = 0
    takes = {"-a": "arch", "--classes": "classes", "--input": "input",
             "--key": "key", "-o": "out", "--normalize": "normalize"}
    while i < len(argv):
        a = argv[i]
        if a == "--by-order":
            opts["by_order"] = True
        elif a in takes:
            if i + 1 >= len(argv):
                raise Usage("%s: wants a value" % a)
            opts[takes[a]] = argv[i + 1]
            i += 1
        elif a.startswith("-") and a != "-":
            raise Usage("%s: unknown option" % a)
        else:
            args.append(a)
        i += 1
    if opts["arch"] is None or opts["out"] is None or len(args) != 1:
        raise Usage("want -a ARCH, -o FILE and one STATE_DICT", True)
    if isinstance(opts["input"], str):
        try:
            dims = tuple(int(v) for v in opts["input"].split(","))
        except ValueError:
            dims = ()
        if len(dims) != 3 or not all(1 <= d <= 4096 for d in dims):
            raise Usage("--input %s: want C,H,W" % opts["input"])
        opts["input"] = dims
    if opts["classes"] is not None:
        try:
            opts["classes"] = int(opts["classes"])
        except ValueError:
            opts["classes"] = 0
        if not 1 <= opts["classes"] <= 1 << 24:
            raise Usage("--classes: want an integer in 1..16777216")
    return opts, args[0]


def normalize_meta(text, channels):
    """The input.mean.K / input.std.K meta pairs of --normalize M../S..,
    each a float32 value written as a float, or [] without it."""
    if text is None:
        return []
    try:
        means, stds = ([float(v) for v in half.split(",")]
                       for half in text.split("/"))
    except ValueError:
        raise Usage("--normalize %s: want M1,..,MC/S1,..,SC" % text)
    if len(means) != channels or len(stds) != channels or not all(
            math.isfinite(v) for v in means + stds) or min(stds) <= 0:
        raise Usage("--normalize %s: want %d finite means and %d positive "
                    "stds" % (text, channels, channels))
    f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
    return ([("input.mean.%d" % k, f32(v)) for k, v in enumerate(means)] +
            [("input.std.%d" % k, f32(v)) for k, v in enumerate(stds)])


def main(argv):
    try:
        opts, path = parse_args(argv)
        arch = opts["arch"]
        if arch in RESIDUAL:
            raise Usage("-a %s: that is torchvision's name; xf's preset "
                        "with its names and layout is -a %s"
                        % (arch, RESIDUAL[arch]))
        spec = xf2torch.PRESETS.get(arch, arch)
        try:
            xf2torch.parse_spec(spec)
        except ValueError as e:
            raise Usage("-a %s: %s" % (arch, e))
        sd, digest = load_state_dict(path, opts["key"])
        try:
            classes = opts["classes"] or head_classes(
                spec, opts["input"], sd, opts["by_order"], path)
        except (ValueError, RuntimeError) as e:
            raise Refused("-a %s with input %s: %s" %
                          (arch, _shape(opts["input"]), e))
        try:
            want = xf_tensors(spec, opts["input"], classes)
        except (ValueError, RuntimeError) as e:
            raise Refused("-a %s with input %s: %s" %
                          (arch, _shape(opts["input"]), e))
        tensors = convert(sd, want, opts["by_order"], path)
        meta = [("prov.source", " ".join(["torch2xf.py"] + argv)),
                ("prov.source_sha256", digest)]
        meta += normalize_meta(opts.get("normalize"), opts["input"][0])
        write_atomic(opts["out"], checkpoint_bytes(
            spec, opts["input"], classes, tensors, meta))
    except Usage as e:
        sys.stderr.write("torch2xf: %s\n%s" % (e, USAGE if e.show_usage
                                                else ""))
        return 2
    except Refused as e:
        sys.stderr.write("torch2xf: %s\n" % e)
        return 1
    except OSError as e:
        sys.stderr.write("torch2xf: %s: %s\n" % (e.filename or opts["out"],
                                                 e.strerror))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
