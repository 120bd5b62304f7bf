#!/bin/bash
# xf-hessian: the top eigenvalues, Hutchinson's trace, module blocks and the
# Hessian-vector product against torch on the same model and batch
# (hessian.py, in float64: the whole Hessian of small models, Lanczos on
# torch's hvp for cnn-s and resnet-8); seeded determinism; errors.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
cd "$tmp" || exit 1
xf-import synthetic --count 200 --shape 1,8,8 --num-classes 4 -s 1 -o d.xfs &&
xf-train -a c2,p,f8,f --steps 40 -s 1 -o m.tar d.xfs 2> /dev/null &&
xf-train -a c2,p,f8,f --steps 1 -s 2 -o v.tar d.xfs 2> /dev/null ||
    { echo "Bail out! no models"; exit 1; }
# vs_torch LABEL MODEL V DATA [xf-hessian options]: the results and
# --hvp V of MODEL on DATA against torch (hessian.py).
vs_torch() {
	label=$1 model=$2 v=$3 data=$4
	shift 4
	xf-hessian "$@" -m "$model" "$data" | xf-cat > "$label.tsv" &&
	    xf-hessian --hvp "$v" -o "$label.hv.tar" -m "$model" "$data"
	ok $? "$label: xf-hessian ran: $(($(wc -l < "$label.tsv") - 1)) records"
	if [ -z "$torch" ]; then
		skip "$label: no torch"
		return
	fi
	"$py" "$here/hessian.py" "$top" "$model" "$v" "$label.hv.tar" "$data" \
	    "$label.tsv" > out 2> err || not_ok "$label: hessian.py ran"
	while read -r verdict what; do
		ok $([ "$verdict" = PASS ]; echo $?) "$label: $what"
	done < out
}
torch=
"$py" -c 'import torch, numpy, msgpack' 2>/dev/null && torch=1

vs_torch plain m.tar v.tar d.xfs -k 2 --draws 200 --modules all
xf-hessian -k 2 --draws 200 --modules all -m m.tar d.xfs | xf-cat > res2.tsv
cmp -s plain.tsv res2.tsv
ok $? "seeded: the same numbers twice"
xf-hessian -j 2 -k 2 --draws 200 --modules all -m m.tar d.xfs | xf-cat > res2.tsv
cmp -s plain.tsv res2.tsv
ok $? "seeded: the same numbers on 2 threads"
xf-hessian -s 2 -k 2 --draws 200 -m m.tar d.xfs | xf-cat > res2.tsv
! cmp -s <(grep trace plain.tsv | head -1) <(grep trace res2.tsv)
ok $? "another seed, another trace estimate"

# Batch norm in eval mode: gamma and beta in the Hessian, whole Hessian;
# 10 steps, as at 40 the loss is 3e-5 and float32 resolves 1 - p poorly
# (no max pool: ties on the flat background would make both sides pick
# an argmax by rounding).
xf-train -a c2,b,f8,f --steps 10 -s 1 -o bnm.tar d.xfs 2> /dev/null &&
xf-train -a c2,b,f8,f --steps 1 -s 2 -o bnv.tar d.xfs 2> /dev/null ||
    not_ok "bn models"
vs_torch bn bnm.tar bnv.tar d.xfs -k 2 --draws 200 --modules all

# cnn-s on real digits, which central differences could not handle (its
# step check failed): 500 digits, 300 steps, evaluated on 200.
if xf-import mnist --split train -n 500 -s 1 -o mtr.xfs 2> /dev/null &&
    xf-import mnist --split test -n 200 -s 1 -o mte.xfs 2> /dev/null; then
	xf-train -j 2 -a cnn-s --steps 300 -b 32 -l 0.05 -s 1 -o cnn.tar \
	    mtr.xfs 2> /dev/null &&
	xf-train -a cnn-s --steps 1 -s 2 -o cnnv.tar mtr.xfs 2> /dev/null ||
	    not_ok "cnn-s models"
	vs_torch cnn-s cnn.tar cnnv.tar mte.xfs -j 2 -k 1 --modules conv2
else
	skip "no MNIST digits"
fi

# resnet-8 (batch norm in eval mode, residual blocks, strided and 1x1
# convs, global average pool) on a synthetic stream; module blocks by
# torchvision names, a residual block among them.
xf-import synthetic --count 64 --shape 3,16,16 --num-classes 4 -s 3 \
    -o r.xfs &&
xf-train -j 2 -a resnet-8 --steps 20 -b 16 -s 1 -o res.tar r.xfs 2> /dev/null &&
xf-train -a resnet-8 --steps 1 -s 2 -o resv.tar r.xfs 2> /dev/null ||
    not_ok "resnet-8 models"
vs_torch resnet-8 res.tar resv.tar r.xfs -j 2 -k 1 \
    --modules layer2.0.downsample.0,layer3.0

run() { xf-hessian "$@" > out 2> err; rc=$?; }
err_table "bad input" <<'T'
1|Lanczos did not converge in 3 steps|-k 2 --iterations 3 --tol 1e-9 -m m.tar d.xfs
2|has no module|--modules layer1.0 -m m.tar d.xfs
2|nothing to compute|-k 0 -m m.tar d.xfs
2|more than --iterations|-k 5 --iterations 3 -m m.tar d.xfs
2|has no module|--modules fc9 -m m.tar d.xfs
T
tap_done
