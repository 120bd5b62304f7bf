#!/bin/bash
# xf and PyTorch agree (TAP): tools/xf2torch.py loads xf checkpoints into
# torch.nn, and the logits of every preset and of a few spec strings match
# xf's (`xf-eval --features HEAD`, the head's activation) to 1e-4 relative,
# in eval mode, after a few training steps so that batch-norm running stats
# are not trivial.  Needs Debian's /usr/bin/python3 with python3-torch and
# python3-msgpack; without them every test is skipped.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3
cd "$tmp" || exit 1

# arch | xf-import synthetic options
cases='mlp|-n 40 -s 1
cnn|-n 40 -s 1
cnn-s|-n 40 -s 1
cnn-bn|-n 40 -s 1
c8k5s2,b,p,f32,f|-n 40 -s 2
c6,b,p,c6k3s2p0,b,f12,f|--shape 3,13,13 --num-classes 4 --count 40 -s 3
c4k1,c4s3p2,b,f|--shape 2,9,11 --num-classes 3 --count 30 -s 4'
n_cases=$(printf '%s\n' "$cases" | wc -l)

if ! [ -x "$py" ] || ! "$py" -c 'import torch, msgpack' >/dev/null 2>&1; then
	for i in $(seq $((n_cases + 1))); do skip "python3-torch not installed"; done
	tap_done
	exit 0
fi

# xf's side: data, a model trained 3 steps, and the logits of its head.
k=0
while IFS='|' read -r arch opts; do
	k=$((k + 1))
	echo "$arch" >arch.$k
	# shellcheck disable=SC2086
	xf-import synthetic $opts -o data.$k.xfs 2>err.$k &&
	xf-train -a "$arch" -b 8 --steps 3 -o m.$k.tar data.$k.xfs 2>>err.$k &&
	head=$(tar -tf m.$k.tar | grep '^fc[0-9]*\.bias$' | tail -1) &&
	xf-eval -m m.$k.tar --features "${head%.bias}" data.$k.xfs 2>>err.$k |
	    xf-cat >xf.$k.tsv 2>>err.$k
done <<EOF_CASES
$cases
EOF_CASES

# PyTorch's side, in one process (importing torch takes seconds): one line
# "STATUS<TAB>DESCRIPTION" per test in ./results, 0 for a pass.
PYTHONPATH="$top/tools" "$py" -B - "$n_cases" >results <<'PY'
import os, sys
import torch
import xf2torch

torch.set_num_threads(1)
n_cases = int(sys.argv[1])

def rows(path):
    out = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0] != "i":
            out.append((int(f[0]), int(f[1]), [float(v) for v in f[2].split()]))
    return out

def result(passed, text):
    print("%d\t%s" % (0 if passed else 1, text.replace("\n", " ")))

for k in range(1, n_cases + 1):
    arch = open("arch.%d" % k).read().strip()
    try:
        model, _ = xf2torch.load("m.%d.tar" % k)
        with open("data.%d.xfs" % k, "rb") as f:
            _, recs = xf2torch.read_images(f)
        with torch.no_grad():
            x = torch.stack([r[2] for r in recs]).float() / 255
            logits = model(x).tolist()
        ours = rows("xf.%d.tsv" % k)
        if len(ours) != len(recs) or not ours:
            raise ValueError("records: xf %d, torch %d" % (len(ours), len(recs)))
        scale = max(abs(v) for r in ours for v in r[2])
        worst = 0.0
        for (i, y, a), (ti, ty, _), b in zip(ours, recs, logits):
            if (i, y) != (ti, ty) or len(a) != len(b):
                raise ValueError("record i=%d: i, y or width differ" % i)
            worst = max(worst, max(abs(u - v) for u, v in zip(a, b)))
        msg = "max |xf - torch| %.3g, max |logit| %.3g" % (worst, scale)
        good = worst <= 1e-4 * max(scale, 1e-3)
        result(good, "%s: logits %s (%s)" % (arch, "match" if good else "differ", msg))
    except Exception as e:
        err = "err.%d" % k
        note = open(err).read() if os.path.exists(err) else ""
        result(False, "%s: %s %s" % (arch, e, note))

# The loader keeps batch-norm running stats and returns eval mode.
try:
    model, man = xf2torch.load("m.4.tar")
    assert man["arch"].startswith("c32,b"), man["arch"]
    assert not model.training, "not in eval mode"
    assert float(model.bn1.running_mean.abs().sum()) > 0, "running mean is 0"
    assert float((model.bn1.running_var - 1).abs().sum()) > 0, "running var is 1"
    result(True, "xf2torch.load: cnn-bn in eval mode with its running stats")
except Exception as e:
    result(False, "xf2torch.load: %s" % e)
PY
# Every case has its line, even when Python died part-way.
i=0
while IFS='	' read -r status text; do
	i=$((i + 1))
	ok "$status" "$text"
done <results
while [ "$i" -le "$n_cases" ]; do
	i=$((i + 1))
	not_ok "case $i: no result from Python"
done
tap_done
