#!/bin/bash
# xf-hessian: the top eigenvalues, Hutchinson's trace, module blocks and the
# Hessian-vector product against torch on the same model and batch
# (hessian.py, the whole Hessian in float64); seeded determinism; errors.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
cd "$tmp" || exit 1
xf-import synthetic --count 200 --shape 1,8,8 --num-classes 4 -s 1 -o d.xfs &&
xf-train -a c2,p,f8,f --steps 40 -s 1 -o m.tar d.xfs 2> /dev/null &&
xf-train -a c2,p,f8,f --steps 1 -s 2 -o v.tar d.xfs 2> /dev/null &&
xf-train -a c2,b,p,f8,f --steps 1 -s 1 -o bn.tar d.xfs 2> /dev/null ||
    { echo "Bail out! no models"; exit 1; }
xf-hessian -k 2 --draws 200 --modules all -m m.tar d.xfs | xf-cat > res.tsv
ok $? "xf-hessian ran: $(wc -l < res.tsv) lines"
xf-hessian -k 2 --draws 200 --modules all -m m.tar d.xfs | xf-cat > res2.tsv
cmp -s res.tsv res2.tsv
ok $? "seeded: the same numbers twice"
xf-hessian --hvp v.tar -o hv.tar -m m.tar d.xfs
ok $? "xf-hessian --hvp"
if "$py" -c 'import torch, numpy, msgpack' 2>/dev/null; then
	"$py" "$here/hessian.py" "$top" m.tar v.tar hv.tar d.xfs res.tsv > out 2> err ||
	    not_ok "hessian.py ran"
	while read -r verdict what; do
		ok $([ "$verdict" = PASS ]; echo $?) "$what"
	done < out
else
	skip "no torch"
fi

run() { xf-hessian "$@" > out 2> err; rc=$?; }
err_table "bad input" <<'T'
1|Lanczos did not converge in 3 steps|-k 2 --iterations 3 --tol 1e-9 -m m.tar d.xfs
1|batch norm|-m bn.tar d.xfs
1|the top eigenvalue depends on the step|-m v.tar d.xfs
2|nothing to compute|-k 0 -m m.tar d.xfs
2|more than --iterations|-k 5 --iterations 3 -m m.tar d.xfs
2|has no module|--modules fc9 -m m.tar d.xfs
T
tap_done
