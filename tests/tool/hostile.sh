#!/bin/bash
# The hostile-input table: crafted bad streams, checkpoints and command
# lines given to the tools.  Each must exit 1 (bad data) or 2 (usage), print
# exactly one line on stderr naming the file and what is wrong, and stay
# within a 1 GiB address space (ulimit -v): never crash, hang or balloon.
. "$(dirname "$0")/../tap.sh"
corpus=$top/tests/fuzz/corpus
cd "$tmp" || exit 1

# check WANT_EXIT WANT_TEXT CMD...: exit, one stderr line holding WANT_TEXT.
check() {
	local want=$1 text=$2
	shift 2
	# ASan reserves terabytes of address space: under SAN=1 its own
	# allocator limits stand in for ulimit -v.
	if [ "${XF_SAN:-0}" = 1 ]; then
		( ulimit -t 60; exec "$@" ) > out 2> err < /dev/null
	else
		( ulimit -v 1048576; ulimit -t 20; exec "$@" ) > out 2> err < /dev/null
	fi
	local r=$? lines
	lines=$(wc -l < err)
	if [ $r -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qF -- "$text" err; then
		ok 0 "$* -> $r: $(cat err)"
	else
		ok 1 "$* -> exit $r (want $want), $lines lines, want '$text': $(head -3 err | tr '\n' '|')"
	fi
}

xf-import synthetic --count 40 -s 1 > good.xfs
xf-train -a cnn-s --steps 2 -o good.tar good.xfs
# Bytes of good.xfs's header: its records all have the same size.
rec=$(( $(xf-import synthetic --count 41 -s 1 | wc -c) - $(wc -c < good.xfs) ))
hdr=$(( $(wc -c < good.xfs) - 40 * rec ))
# nil.xfs: good.xfs with count nil, as a writer into a pipe may send it;
# its records are cut and broken below, where a count would be checked first.
/usr/bin/python3 -c 'import msgpack, sys
u = msgpack.Unpacker(open("good.xfs", "rb"), raw=False)
h = next(u); h["count"] = None
out = open("nil.xfs", "wb"); out.write(msgpack.packb(h))
for r in u: out.write(msgpack.packb(r))'
nhdr=$(( $(wc -c < nil.xfs) - 40 * rec ))

# ---- streams: the fuzz corpus's hostile streams, through every reader ----
for f in "$corpus"/stream/hostile-*; do
	name=$(basename "$f")
	check 1 "$name: " xf-cat "$f"
done
for f in "$corpus"/stream/hostile-bin32-4g "$corpus"/stream/hostile-nesting-bomb; do
	check 1 "$(basename "$f"): header" xf-shuffle -b 7 "$f"
	check 1 "$(basename "$f"): header" xf-train -a mlp --steps 1 -o x.tar "$f"
	check 1 "$(basename "$f"): header" xf-eval -m good.tar "$f"
done
# Records: truncated at every field of the first record.
for cut in 1 3 5 8 12 20 100 500; do
	head -c $(( nhdr + cut )) nil.xfs > cut.xfs
	check 1 "cut.xfs: record 0" xf-cat cut.xfs
done
head -c $(( $(wc -c < good.xfs) - 1 )) good.xfs > last.xfs
check 1 "last.xfs: record 39" xf-shuffle -b 7 last.xfs
# A record whose x is the wrong size, a label out of range, a wrong dtype.
printf '\x82\xa1y\x01\xa1x\xc4\x03abc' > rec1; cat <(head -c $nhdr nil.xfs) rec1 > small-x.xfs
check 1 'small-x.xfs: record 0: "x" has 3 bytes' xf-train -a mlp --steps 1 -o x.tar small-x.xfs
printf '\x82\xa1y\x63\xa1x\xc5\x03\x10' > rec2; head -c 784 /dev/zero >> rec2
cat <(head -c $nhdr nil.xfs) rec2 > label.xfs
check 1 'label.xfs: record 0: label' xf-eval -m good.tar label.xfs
xf-eval -m good.tar --features fc1 good.xfs > feat.xfs
check 1 'feat.xfs: header' xf-train -a mlp --steps 1 -o x.tar feat.xfs
check 1 'good.xfs: header' xf-cka good.xfs feat.xfs
printf '\xdd\xff\xff\xff\xff' > bomb; cat <(head -c $nhdr nil.xfs) bomb > rec-bomb.xfs
check 1 'rec-bomb.xfs: record 0' xf-cat rec-bomb.xfs

# ---- checkpoints: the corpus's hostile tars, through every reader ----
for f in "$corpus"/ckpt/hostile-*.tar; do
	name=$(basename "$f")
	check 1 "$name:" xf-eval -m "$f" good.xfs
done
for f in "$corpus"/ckpt/hostile-symlink.tar "$corpus"/ckpt/hostile-wrong-size.tar \
    "$corpus"/ckpt/hostile-gzip.tar; do
	check 1 "$(basename "$f"):" xf-train --init "$f" --steps 1 -o x.tar good.xfs
	check 1 "$(basename "$f"):" xf-cka -a "$f" good.xfs
	check 1 "$(basename "$f"):" xf-interp -m "$f" -m good.tar good.xfs
	check 1 "$(basename "$f"):" xf-critic --init "$f" -m good.tar good.xfs
done
head -c 3000 good.tar > cut.tar
check 1 "cut.tar:" xf-eval -m cut.tar good.xfs
check 1 "good.xfs:" xf-eval -m good.xfs good.xfs
# A checkpoint of another architecture, and one that does not fit the data.
xf-train -a mlp --steps 1 -o mlp.tar good.xfs
check 1 "mlp.tar" xf-interp -m good.tar -m mlp.tar good.xfs
xf-import synthetic --count 10 --shape 3,8,8 -s 1 -o rgb.xfs
check 1 "mlp.tar: images are 3x8x8" xf-eval -m mlp.tar rgb.xfs
check 1 "mlp.tar" xf-train --init mlp.tar --steps 1 -o x.tar rgb.xfs

# ---- xf-align: architectures, widths, data, a NaN cost ----
xf-train -a c8,c8,p,c16,c16,p,f64,f --steps 1 -o thin.tar good.xfs
check 1 "mlp.tar: tensor 0 is fc1.weight, want conv1.weight" xf-align -a good.tar -b mlp.tar -o x.tar
check 1 "thin.tar: tensor conv1.weight: shape 8x1x3x3, want 16x1x3x3" xf-align -a good.tar -b thin.tar -o x.tar
check 2 "--method activations: give the data" xf-align --method activations -a good.tar -b good.tar -o x.tar
check 1 "rgb.xfs: good.tar: images are 3x8x8" xf-align --method activations -a good.tar -b good.tar -o x.tar rgb.xfs
# Weights near FLT_MAX are finite, so the reader takes them; the
# activations overflow and conv1's correlations are NaN.
/usr/bin/python3 - good.tar huge.tar <<'PY'
import io, sys, tarfile
src, dst = tarfile.open(sys.argv[1]), tarfile.open(sys.argv[2], "w", format=tarfile.USTAR_FORMAT)
for m in src.getmembers():
    data = src.extractfile(m).read()
    if m.name == "conv1.weight":
        data = b"\xff\xff\x7f\x7f" * (len(data) // 4)
    dst.addfile(m, io.BytesIO(data))
dst.close()
PY
check 1 "conv1: cost (0, 0) is nan" xf-align --method activations -a huge.tar -b good.tar -o x.tar good.xfs

# ---- the ten classes of issue 11, one case each (more in test_stream.c,
# faults.sh and the corpus) ----
#  1 -o onto an input           refused before anything is opened for writing
#  2 --resume train.* keys      each in its option's range, else exit 1
#  3 the header's count         a promise: short or long is an error at a record
#  4 msgpack ext types          refused, in streams and in manifests
#  5 duplicate keys             refused in headers, records and manifests
#  6 required header fields     present, with their allowed values
#  7 record field types         i an integer >= 0, y an integer
#  8 non-finite features        named at their record when read
#  9 checkpoint arch vs tensors checked before allocating; NaN summaries stay NaN
# 10 kill -9 temporaries        removed by the next run onto that output
mani() {	# mani IN OUT PYTHON: OUT is IN with its manifest m changed by PYTHON
	/usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import io, msgpack, sys, tarfile
src, dst, code = sys.argv[1:4]
t = tarfile.open(src)
members = [(m.name, t.extractfile(m).read()) for m in t.getmembers()]
m = msgpack.unpackb(members[0][1], raw=False)
raw = None
exec(code)
members[0] = (members[0][0], raw if raw is not None else msgpack.packb(m))
out = tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT)
for n, d in members:
    i = tarfile.TarInfo(n); i.size = len(d); out.addfile(i, io.BytesIO(d))
out.close()
PY
}
# 1
check 1 "good.xfs: is also an input" xf-shuffle -b 4 -o good.xfs good.xfs
# 2
mani good.tar mom.tar 'm["meta"]["train.momentum"] = 7.0'
check 1 "mom.tar: meta train.momentum: want a number in 0..1" \
    xf-train --resume mom.tar -o x.tar good.xfs
# 3
check 1 "count-short: record 4: the stream ends after 4 records" \
    xf-shuffle -b 2 "$corpus"/stream/hostile-count-short
# 4
mani good.tar ext.tar 'm["meta"]["prov.data"] = msgpack.ExtType(1, b"x")'
check 1 "ext.tar: manifest: msgpack ext type" xf-eval -m ext.tar good.xfs
# 5
mani good.tar dup.tar '
body = b"".join(msgpack.packb(k) + msgpack.packb(v) for k, v in m.items())
raw = bytes([0x80 | (len(m) + 1)]) + body + msgpack.packb("classes") + msgpack.packb(3)'
check 1 'dup.tar: manifest: key "classes" appears twice' xf-cka -a dup.tar good.xfs
# 6
check 1 'endian-big: header: endian is not "little"' \
    xf-train -a mlp --steps 1 -o x.tar "$corpus"/stream/hostile-endian-big
# 7
printf '\x83\xa1i\xa17\xa1y\x01\xa1x\xc5\x03\x10' > rec3; head -c 784 /dev/zero >> rec3
cat <(head -c $nhdr nil.xfs) rec3 > istr.xfs
check 1 'istr.xfs: record 0: index "i"' xf-eval -m good.tar --examples - istr.xfs
# 8
xf-eval -m good.tar --features fc1 -o f.xfs good.xfs
/usr/bin/python3 -c 'import msgpack, struct
u = msgpack.Unpacker(open("f.xfs", "rb"), raw=False)
h = next(u); rs = list(u)
x = bytearray(rs[3]["x"]); x[8:12] = struct.pack("<f", float("nan")); rs[3]["x"] = bytes(x)
open("fnan.xfs", "wb").write(msgpack.packb(h) + b"".join(msgpack.packb(r) for r in rs))'
check 1 'fnan.xfs: record 3: "x" has NaN at element 2' xf-cka f.xfs fnan.xfs
# 9
mani good.tar arch.tar 'm["arch"] = "c4k99999,f"'
check 1 'arch.tar: arch "c4k99999,f": spec '\''c4k99999,f'\'': over 4294967296 bytes of parameters' \
    xf-interp -m arch.tar -m good.tar good.xfs
mani good.tar arch2.tar 'm["arch"] = "c4k99,f"'
check 1 'arch2.tar: tensor conv1.weight: shape 16x1x3x3, arch "c4k99,f" wants 4x1x99x99' \
    xf-eval -m arch2.tar good.xfs
# A head of weights near FLT_MAX: finite, so the reader takes it, but the
# loss at lambda 0.5 and 1 is NaN, and so must be the summary's.
/usr/bin/python3 - <<'PY'
import io, tarfile, numpy as np
src = tarfile.open("mlp.tar")
out = tarfile.open("huge.tar", "w", format=tarfile.USTAR_FORMAT)
for m in src.getmembers():
    d = src.extractfile(m).read()
    if m.name == "fc3.weight":
        d = np.full(len(d) // 4, 3e38, "<f4").tobytes()
    i = tarfile.TarInfo(m.name); i.size = len(d); out.addfile(i, io.BytesIO(d))
out.close()
PY
xf-interp -n 3 -m mlp.tar -m huge.tar --summary sum.xfs good.xfs > /dev/null 2> err
got=$(xf-cat sum.xfs | field loss_max)/$(xf-cat sum.xfs | field barrier_loss)
[ "$got" = nan/nan ]
ok $? "interp --summary with NaN losses: loss_max/barrier_loss = $got, want nan/nan"
# 10: tests/tool/faults.sh kills runs and checks what xf-train(1) promises.

# ---- command lines: bad numbers and impossible requests exit 2 ----
check 2 "-e -1" xf-train -e -1 -o x.tar good.xfs
check 2 "-b 0" xf-train -b 0 -o x.tar good.xfs
check 2 "-l abc" xf-train -l abc -o x.tar good.xfs
check 2 "-b 0" xf-shuffle -b 0 good.xfs
check 2 "-b 5" xf-shuffle -b 5 good.xfs
check 2 "-n" xf-interp -n 1 -m good.tar -m good.tar good.xfs
check 2 "-k" xf-critic -k 0 --init good.tar -m good.tar good.xfs
check 2 "--pool" xf-cka --pool 0 -a good.tar good.xfs
check 2 "-r" xf-cat -r 9:x good.xfs
check 2 "--count" xf-import synthetic --count -5
check 2 "--classes" xf-import synthetic --classes 0,0
check 2 "-j" xf-eval -j -3 -m good.tar good.xfs
check 2 "--augment crop:999: crop:999: want a padding of 1..512" \
    xf-train --augment crop:999 -o x.tar good.xfs
check 2 "--normalize 0.5/0: std 0: want > 0" \
    xf-train --normalize 0.5/0 -o x.tar good.xfs
check 2 "--warmup" xf-train --warmup x -o x.tar good.xfs

# ---- the input normalisation and the augmentation in a checkpoint ----
mani good.tar nstd.tar 'm["meta"]["input.mean.0"] = 0.5; m["meta"]["input.std.0"] = float("inf")'
check 1 "nstd.tar: meta input.mean, input.std: std of channel 0: want a finite number > 0" \
    xf-eval -m nstd.tar good.xfs
mani good.tar nchan.tar 'm["meta"]["input.mean.1"] = 0.5; m["meta"]["input.std.1"] = 1.0'
check 1 "nchan.tar: meta input.mean.1: the model takes 1 channels" \
    xf-cka -a nchan.tar good.xfs
# Two models mixed into one (xf-interp, xf-align, xf-critic's rewind) run
# with one normalisation: a pair whose input differs is refused.
mani good.tar nmean.tar 'm["meta"]["input.mean.0"] = 0.5; m["meta"]["input.std.0"] = 1.0'
mani good.tar nsd.tar 'm["meta"]["input.mean.0"] = 0.0; m["meta"]["input.std.0"] = 0.25'
check 1 "nmean.tar: input.mean.0 0.5, want 0 (the input of good.tar)" \
    xf-interp -m good.tar -m nmean.tar good.xfs
check 1 "good.tar: input.std.0 1, want 0.25 (the input of nsd.tar)" \
    xf-interp -m nsd.tar -m good.tar good.xfs
check 1 "nsd.tar: input.std.0 0.25, want 1 (the input of good.tar)" \
    xf-align -a good.tar -b nsd.tar -o x.tar
check 1 "nmean.tar: input.mean.0 0.5, want 0 (the input of good.tar)" \
    xf-critic --init nmean.tar -m good.tar good.xfs
xf-train -a cnn-s --steps 1 -o rgb.tar rgb.xfs
check 1 "rgb.tar: input 3x8x8, want 1x28x28 (the architecture of good.tar)" \
    xf-interp -m good.tar -m rgb.tar good.xfs
check 1 "rgb.tar: input 3x8x8, want 1x28x28 (the architecture of good.tar)" \
    xf-align -a good.tar -b rgb.tar -o x.tar
# Out of memory for a batch (under the 1 GiB of check): every buffer a
# forward and a backward take, gradient slots included, is allocated before
# the first step, so the run stops with one line and leaves its output as
# it was.
if [ "${XF_SAN:-0}" != 1 ]; then
	xf-import synthetic --count 3000 --shape 3,32,32 -s 1 -o big3.xfs
	xf-train -a resnet-8 --steps 1 -o r8.tar big3.xfs
	cp good.tar kept.tar
	check 1 "big3.xfs: step 1: out of memory for a batch of 3000" \
	    xf-train -a resnet-8 -b 3000 --steps 1 -o kept.tar big3.xfs
	cmp -s kept.tar good.tar
	ok $? "xf-train out of memory leaves its output as it was"
	check 1 "r8.tar: out of memory for a batch of 3000" \
	    xf-eval -b 3000 -m r8.tar -o ev.xfs big3.xfs
	[ ! -e ev.xfs ]
	ok $? "xf-eval out of memory writes no output"
fi
mani good.tar aug.tar 'm["meta"]["train.augment"] = "crop:4,crop:5"'
check 1 "aug.tar: meta train.augment: item" xf-train --resume aug.tar -o x.tar good.xfs
mani good.tar warm.tar 'm["meta"]["train.warmup"] = -3'
check 1 "warm.tar: meta train.warmup: want an integer in 0..2147483647" \
    xf-train --resume warm.tar -o x.tar good.xfs

# ---- measures (xf-cka --measure, xf-eval --score, xf-hessian) ----
xf-eval -m good.tar --features fc1 -o fc1.xfs good.xfs
check 1 "CCA needs more examples than features (use --keep)" \
    xf-cka --measure pwcca fc1.xfs fc1.xfs
if /usr/bin/python3 -c 'import msgpack' 2>/dev/null; then
	/usr/bin/python3 - <<'EOF'
import msgpack, struct
def stream(path, rows):
    with open(path, "wb") as f:
        f.write(msgpack.packb({"format": "xf-stream", "version": 1,
            "kind": "features", "dtype": "float32", "shape": [3],
            "module": "m", "classes": 0, "count": len(rows),
            "endian": "little", "provenance": ["hostile.sh"]}))
        for i, r in enumerate(rows):
            f.write(msgpack.packb({"i": i, "y": 0,
                "x": struct.pack("<3f", *r)}))
rows = [(i % 7 * 0.5, (i * i) % 11 - 3.0, i % 7 * 0.5) for i in range(30)]
stream("dup.xfs", rows)
stream("nan.xfs", rows[:12] + [(1.0, float("nan"), 2.0)] + rows[13:])
EOF
	check 1 "dup.xfs m, dup.xfs m: side a: rank 2 of 3 features" \
	    xf-cka --measure pwcca dup.xfs dup.xfs
	check 1 "nan.xfs: record 12" \
	    xf-cka --measure svcca nan.xfs dup.xfs
	check 1 "nan.xfs: record 12" \
	    xf-cka --measure procrustes dup.xfs nan.xfs
else
	skip "no python3-msgpack: rank-deficient and NaN feature streams"
fi
xf-train -a f --steps 1 -o head.tar good.xfs
check 1 "head.tar: --score: the model is its head alone: no layer below it to score" \
    xf-eval --score logme -m head.tar good.xfs
check 1 "good.tar: all: Lanczos did not converge in 2 steps" \
    xf-hessian -k 2 --iterations 2 --tol 1e-12 -m good.tar good.xfs
check 2 "--keep" xf-cka --measure svcca --keep 0 fc1.xfs fc1.xfs
check 2 "--score" xf-eval --score nope -m good.tar good.xfs
check 2 "--draws" xf-hessian --draws 1 -m good.tar good.xfs
# ---- xf-import's readers of users' files (folder, npy, npz, cifar) ----
# Each bad file: exit 1, one line naming it, and no output file left.
if /usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null; then
	/usr/bin/python3 - <<'PY'
import os, struct
import numpy as np
from PIL import Image
def folder(name, files):
    for rel, data in files.items():
        os.makedirs(os.path.dirname("%s/%s" % (name, rel)), exist_ok=True)
        open("%s/%s" % (name, rel), "wb").write(data)
Image.fromarray(np.zeros((4, 4), np.uint8)).save("ok.png")
Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save("ok.jpg")
png, jpg = open("ok.png", "rb").read(), open("ok.jpg", "rb").read()
folder("im-png-zero", {"a/x.png": b""})
folder("im-png-cut", {"a/x.png": png[:len(png) - 20]})
folder("im-png-junk", {"a/x.png": png[:16] + b"\xff" * 64})
folder("im-jpg-zero", {"a/x.jpg": b""})
folder("im-jpg-cut", {"a/x.jpg": jpg[:len(jpg) // 2]})
folder("im-jpg-junk", {"a/x.jpg": jpg[:20] + os.urandom(200)})
Image.fromarray(np.zeros((5, 4), np.uint8)).save("tall.png")
folder("im-mixed", {"a/x.png": png, "b/y.png": open("tall.png", "rb").read()})
folder("im-empty", {"a/x.png": png, "b/notes.txt": b"no image"})
def npy(name, header, data=b"", version=1):
    h = header.encode() + b"\n"
    pre = b"\x93NUMPY" + bytes([version, 0]) + (struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h)))
    open(name, "wb").write(pre + h + data)
open("a-magic.npy", "wb").write(b"PK\x03\x04" + b"\0" * 60)
npy("a-header.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1), }" + " " * 66000, b"x", 2)
npy("a-dtype.npy", "{'descr': '<U4', 'fortran_order': False, 'shape': (1, 1), }", b"\0" * 16)
npy("a-object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\x80\x02N.")
npy("a-fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", b"\0" * 16)
npy("a-overflow.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615, 2, 2), }")
npy("a-short.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000, 28, 28), }", b"\0" * 100)
open("z-notzip.npz", "wb").write(b"\x93NUMPY not a zip")
np.savez("z-noarrays.npz", images=np.zeros((1, 2, 2), np.uint8))
os.makedirs("cifar-cut")
open("cifar-cut/test_batch.bin", "wb").write(b"\0" * 3072)
PY
	mkdir -p im-loop/a && cp ok.png im-loop/a/ && ln -s ../.. im-loop/a/loop
	for d in im-png-zero im-png-cut im-png-junk im-jpg-zero im-jpg-cut \
	    im-jpg-junk im-mixed im-empty im-loop; do
		check 1 "$d/" xf-import -o out.xfs folder "$d"
		! ls out.xfs* >/dev/null 2>&1; ok $? "folder $d: no out.xfs left"
	done
	for f in a-magic a-header a-dtype a-object a-fortran a-overflow a-short; do
		check 1 "$f.npy: " xf-import -o out.xfs npy "$f.npy"
		! ls out.xfs* >/dev/null 2>&1; ok $? "npy $f.npy: no out.xfs left"
	done
	check 1 "z-notzip.npz: not a zip file" xf-import -o out.xfs npz z-notzip.npz
	check 1 "z-noarrays.npz: no array x" xf-import -o out.xfs npz z-noarrays.npz
	check 1 "cifar-cut/test_batch.bin: 3072 bytes" xf-import -o out.xfs cifar --split test cifar-cut
	! ls out.xfs* >/dev/null 2>&1; ok $? "npz and cifar: no out.xfs left"
else
	skip "no python3 numpy and PIL for xf-import's hostile files"
fi

tap_done
