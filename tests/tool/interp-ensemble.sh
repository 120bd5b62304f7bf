#!/bin/bash
# xf-interp's ensemble columns (TAP): at every λ of a line, ens_acc and
# ens_loss are the accuracy and mean cross-entropy of (1−λ)·softmax(A) +
# λ·softmax(B), recomputed in torch from xf2torch's logits; at λ = 0 and 1
# they are the endpoints' own; a line outside [0, 1] has no such columns.
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
py=/usr/bin/python3

xf-import synthetic --count 300 --shape 1,12,12 --num-classes 4 -s 1 -o d.xfs &&
xf-train -a c8,p,f16,f -e 2 -b 32 -s 1 -o a.tar d.xfs 2>/dev/null &&
xf-train -a c8,p,f16,f -e 2 -b 32 -s 2 -o b.tar d.xfs 2>/dev/null &&
xf-train -a c8,b,p,f -e 1 -b 32 -s 1 -o bn1.tar d.xfs 2>/dev/null &&
xf-train -a c8,b,p,f -e 1 -b 32 -s 2 -o bn2.tar d.xfs 2>/dev/null ||
	{ echo "Bail out! cannot make test data"; exit 1; }

cat >ens.py <<'PY'
import sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1] + "/tools")
import xf2torch

_, recs = xf2torch.read_images(open(sys.argv[4], "rb"))
x = torch.stack([r[2] for r in recs]).float() / 255
y = np.array([r[1] for r in recs])
def probs(path):
    m, _ = xf2torch.load(path)
    with torch.no_grad():
        return torch.softmax(m(x).double(), 1).numpy()
pa, pb = probs(sys.argv[2]), probs(sys.argv[3])
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[5])]
h = rows[0]
col = lambda r, k: float(r[h.index(k)])
for r in rows[1:]:
    lam = col(r, "lambda")
    p = (1 - lam) * pa + lam * pb
    acc = (p.argmax(1) == y).mean()
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    assert abs(col(r, "ens_acc") - acc) < 1e-12, (lam, col(r, "ens_acc"), acc)
    assert abs(col(r, "ens_error") - (1 - acc)) < 1e-12, lam
    assert abs(col(r, "ens_loss") - loss) <= 1e-5 * loss, (lam, col(r, "ens_loss"), loss)
PY
for pair in "a.tar b.tar" "bn1.tar bn2.tar"; do
	set -- $pair
	xf-interp -n 11 -m $1 -m $2 d.xfs | xf-cat >line.tsv 2>err &&
	    "$py" ens.py "$top" $1 $2 d.xfs line.tsv 2>err
	ok $? "$1 $2: ensemble accuracy and loss at 11 λ are torch's"
	head -2 line.tsv | tail -1 | awk -F'\t' '{ d = $6 - $9; if (d < 0) d = -d;
	    exit !($4 == $7 && d <= 1e-5 * $6) }'
	ok $? "$1 $2: at λ = 0 the ensemble is the first model"
	tail -1 line.tsv | awk -F'\t' '{ d = $6 - $9; if (d < 0) d = -d;
	    exit !($4 == $7 && d <= 1e-5 * $6) }'
	ok $? "$1 $2: at λ = 1 the ensemble is the second model"
done
xf-interp -n 3 --range 0:2 -m a.tar -m b.tar d.xfs | xf-cat >out.tsv 2>err &&
    ! head -1 out.tsv | grep -q ens_
ok $? "a line beyond [0, 1] has no ensemble columns"

tap_done
