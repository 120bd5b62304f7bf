#!/bin/bash
# xf-train --augment, --warmup and --init-scheme (TAP).  Seeded runs with
# random crops and flips give the same bytes at -j1 and -j2 and across a
# --resume (the draw is a function of seed, epoch and example, never of a
# stream's position); a warmup's rates are lr * (step + 1) / k in the log
# and survive a resume in the middle of it; the settings are stored and a
# resumed run takes them; bad values are usage errors.  The crop and flip
# themselves are checked against a literal reference in
# tests/unit/test_augment.c.
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
py=/usr/bin/python3

meta() {	# meta CKPT KEY: the value of a meta key
	"$py" -c 'import sys, tarfile, msgpack
t = tarfile.open(sys.argv[1])
m = msgpack.unpackb(t.extractfile("manifest.msgpack").read())
print(m["meta"].get(sys.argv[2], "-"))' "$1" "$2"
}

xf-import synthetic --shape 3,16,16 --count 48 -s 9 -o d.xfs 2>err
for arch in cnn-s resnet-8; do
	run="xf-train -a $arch -b 16 -e 2 -s 3 --augment crop:4,flip --warmup 4"
	$run -j 1 -o $arch.j1.tar d.xfs 2>err
	$run -j 2 -o $arch.j2.tar d.xfs 2>err
	if [ -s $arch.j1.tar ] && cmp -s $arch.j1.tar $arch.j2.tar; then
		pass "$arch, crop and flip: -j1 and -j2 give the same bytes"
	else
		not_ok "$arch, crop and flip: -j1 and -j2 give the same bytes"
	fi
	# 3 steps an epoch: stop at step 2, inside the warmup and the epoch.
	xf-train -a $arch -b 16 --steps 2 -s 3 --augment crop:4,flip \
	    --warmup 4 -o $arch.half.tar d.xfs 2>err
	xf-train -e 2 --resume $arch.half.tar -o $arch.res.tar d.xfs 2>err
	if [ -s $arch.res.tar ] && cmp -s $arch.res.tar $arch.j1.tar; then
		pass "$arch: 2 steps, resumed to 2 epochs, gives the bytes of one run"
	else
		not_ok "$arch: 2 steps, resumed to 2 epochs, gives the bytes of one run"
	fi
done
xf-train -a cnn-s -b 16 -e 2 -s 3 --warmup 4 -o plain.tar d.xfs 2>err
if [ -s plain.tar ] && ! cmp -s plain.tar cnn-s.j1.tar; then
	pass "the augmentation changes what is learnt"
else
	not_ok "the augmentation changes what is learnt"
fi
got="$(meta cnn-s.res.tar train.augment) $(meta cnn-s.res.tar train.warmup) $(meta cnn-s.res.tar train.init_scheme) $(meta resnet-8.j1.tar train.init_scheme)"
if [ "$got" = "crop:4,flip 4 torch he" ]; then
	pass "train.augment, train.warmup and train.init_scheme are stored and resumed"
else
	not_ok "train.augment, train.warmup and train.init_scheme are stored and resumed" "got '$got'"
fi

xf-train -a c8,f -b 16 --steps 1 --augment flip,crop:2 -o canon.tar d.xfs 2>err
got=$(meta canon.tar train.augment)
if [ "$got" = "crop:2,flip" ]; then
	pass "--augment flip,crop:2 is stored as crop:2,flip"
else
	not_ok "--augment flip,crop:2 is stored as crop:2,flip" "got '$got'"
fi

# The warmup's rates, in the log, against the formula.
xf-train -a cnn-s -b 16 --steps 6 -l 0.2 --warmup 4 --log log.xfs \
    --log-every 1 -o w.tar d.xfs 2>err
xf-cat log.xfs 2>err | "$py" -c '
import sys
rows = [l.rstrip("\n").split("\t") for l in sys.stdin]
col = rows[0].index("lr")
lr = [float(r[col]) for r in rows[1:]]
want = [0.2 * min(s + 1, 4) / 4 for s in range(6)]
ok = len(lr) == 6 and all(abs(a - b) <= 1e-7 for a, b in zip(lr, want))
print("ok" if ok else "bad %r" % lr)' >lr.out 2>&1
if [ "$(cat lr.out)" = ok ]; then
	pass "--warmup 4: the log's lr is 0.05, 0.1, 0.15, 0.2, 0.2, 0.2"
else
	not_ok "--warmup 4: the log's lr is 0.05, 0.1, 0.15, 0.2, 0.2, 0.2" "$(cat lr.out)"
fi

# --init-scheme he on a plain spec: conv weights N(0, 2 / fan_out), biases 0.
xf-import synthetic --shape 1,28,28 --count 16 -s 4 -o m.xfs 2>err
xf-train -a c64,c64,f --init-scheme he --save-init he.tar --steps 1 \
    -o /dev/null m.xfs 2>err
"$py" - he.tar >he.out 2>&1 <<'PY'
import sys
import tarfile, msgpack, numpy as np
t = tarfile.open(sys.argv[1])
man = msgpack.unpackb(t.extractfile("manifest.msgpack").read())
w = {e["name"]: np.frombuffer(t.extractfile(e["name"]).read(), "<f4")
     .reshape(e["shape"]) for e in man["tensors"]}
v = w["conv2.weight"]
fan_out = v.shape[0] * v.shape[2] * v.shape[3]
ratio = v.var() * fan_out / 2
ok = abs(ratio - 1) < 0.05 and abs(v.mean()) < 0.01 and \
    not w["conv1.bias"].any() and not w["conv2.bias"].any() and \
    man["meta"]["train.init_scheme"] == "he"
print("ok" if ok else "bad: var*fan_out/2 %.3f mean %.4f" % (ratio, v.mean()))
PY
if [ "$(cat he.out)" = ok ]; then
	pass "--init-scheme he: conv weights have variance 2/fan_out, biases 0"
else
	not_ok "--init-scheme he: conv weights have variance 2/fan_out, biases 0" "$(cat he.out)"
fi

# Usage errors.
while IFS='|' read -r opts want; do
	# shellcheck disable=SC2086
	xf-train -a cnn-s $opts -o x.tar d.xfs 2>err; rc=$?
	expect_err "xf-train $opts: exit 2" 2 "$want"
done <<'EOF_BAD'
--augment crop:0|--augment crop:0: crop:0: want a padding of 1..512
--augment flip,flip|--augment flip,flip: item "flip"
--augment mirror|--augment mirror: item "mirror"
--warmup -1|--warmup
--init-scheme xavier|--init-scheme xavier: want torch or he
EOF_BAD
xf-train --resume cnn-s.half.tar --augment flip -o x.tar d.xfs 2>err; rc=$?
expect_err "--resume with --augment: exit 2" 2 "--resume continues a run with its own settings"
tap_done
