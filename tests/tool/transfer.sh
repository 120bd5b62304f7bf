#!/bin/bash
# xf-eval --score: LogME, LEEP and H-score against numpy references from
# the papers (transfer.py), with more and with fewer examples than
# features; on the head's input of a resnet-8 (after its average pool) and
# of a plain stack with a max pool below its head, taken from torch
# (tools/xf2torch.py); and the errors of bad input.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
cd "$tmp" || exit 1
xf-import synthetic --count 400 -s 1 -o d.xfs &&
xf-import synthetic --count 60 -s 2 -o small.xfs &&
xf-train -a cnn-s --steps 30 -s 1 -o a.tar d.xfs 2> /dev/null &&
xf-train -a c8,p,f --steps 2 -s 1 -o pool.tar d.xfs 2> /dev/null &&
xf-train -a c4,p,p,f --steps 30 -s 1 -o pp.tar d.xfs 2> /dev/null &&
xf-import synthetic --count 200 -s 3 --shape 3,32,32 -o r.xfs &&
xf-train -a resnet-8 --steps 20 -s 1 -o r.tar r.xfs 2> /dev/null &&
xf-train -a f --steps 2 -s 1 -o head.tar d.xfs 2> /dev/null ||
    { echo "Bail out! no models"; exit 1; }
if "$py" -c 'import numpy, msgpack' 2>/dev/null; then
	"$py" -c 'import torch' 2>/dev/null && with_torch=$top || with_torch=
	"$py" "$here/transfer.py" $with_torch > res 2> err || not_ok "transfer.py ran"
	while read -r verdict what; do
		ok $([ "$verdict" = PASS ]; echo $?) "$what"
	done < res
	[ -n "$with_torch" ] || skip "no python3-torch: resnet-8 and the max pool"
else
	skip "no numpy or msgpack"
fi
# Two models: one record per model and score, in order.
xf-eval --score leep,logme -m a.tar -m a.tar d.xfs | xf-cat | cut -f 1,2 > two
ok $([ "$(tr '\n\t' ' ,' < two)" = "model,score a.tar,logme a.tar,leep a.tar,logme a.tar,leep " ]; echo $?) \
    "records per model and score: $(tr '\n' ' ' < two)"

run() { xf-eval "$@" > out 2> err; rc=$?; }
err_table "bad input" <<'T'
1|pool.tar: LogME: alpha / beta did not converge|--score logme -m pool.tar d.xfs
1|head.tar: --score: the model is its head alone|--score hscore -m head.tar d.xfs
2|--score kl|--score logme,kl -m a.tar d.xfs
2|one at a time|--score leep --features fc1 -m a.tar d.xfs
T
tap_done
