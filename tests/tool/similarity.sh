#!/bin/bash
# xf-cka --measure svcca|pwcca|procrustes: every measure against a numpy
# reference from the papers' formulas (similarity.py), the invariants, and
# the errors of bad input.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
cd "$tmp" || exit 1
if ! "$py" -c 'import numpy, msgpack' 2>/dev/null; then
	skip "no numpy or msgpack"; tap_done; exit 0
fi
"$py" "$here/similarity.py" > res 2> err || not_ok "similarity.py ran"
while read -r verdict what; do
	ok $([ "$verdict" = PASS ]; echo $?) "$what"
done < res

# The checkpoint form gives the feature form's numbers.
xf-import synthetic --count 200 -s 1 -o d.xfs &&
xf-train -a cnn-s --steps 4 -s 1 -o a.tar d.xfs 2> /dev/null &&
xf-train -a cnn-s --steps 4 -s 2 -o b.tar d.xfs 2> /dev/null &&
xf-eval -m a.tar --features fc1 d.xfs > fa.xfs &&
xf-eval -m b.tar --features fc1 d.xfs > fb.xfs || not_ok "models"
for m in svcca procrustes; do
	v1=$(xf-cka --measure $m fa.xfs fb.xfs | xf-cat | awk -F'\t' 'NR == 2 { print $3 }')
	v2=$(xf-cka --measure $m -a a.tar -b b.tar --modules fc1 d.xfs | xf-cat |
	    awk -F'\t' 'NR == 2 { print $3 }')
	ok $([ -n "$v1" ] && [ "$v1" = "$v2" ]; echo $?) "$m: checkpoints and feature streams agree ($v1, $v2)"
done

# Bad input: one line, exit 1; usage, exit 2.
run() { xf-cka "$@" > out 2> err; rc=$?; }
err_table "bad input" <<'T'
1|CCA needs more examples than features (use --keep)|--measure pwcca wide.xfs wide2.xfs
1|rank 40 of 42 features|--measure pwcca def.xfs y.xfs
1|NaN|--measure svcca nan.xfs y.xfs
1|NaN|--measure procrustes y.xfs nan.xfs
2|--measure|--measure cca y.xfs y.xfs
2|--keep is for|--keep 0.9 --measure procrustes y.xfs y.xfs
2|--keep is for|--keep 0.9 y.xfs y.xfs
2|for --measure cka|--measure svcca --debiased y.xfs y.xfs
2|--keep|--measure svcca --keep 1.5 y.xfs y.xfs
T
run --measure pwcca --keep 1 def.xfs y.xfs
ok $rc "PWCCA --keep 1 of a rank-deficient side keeps its rank: $(cat err)"
tap_done
