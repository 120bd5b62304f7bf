#!/bin/bash
# xf-interp's command-line contract (TAP): usage errors, bad data and
# checkpoints, λ = 0 and 1 against xf-eval bit for bit, the summary, the
# random, plane and gradient directions, batch norm, determinism.  Tiny data
# and models: it runs in seconds.
#
# Run by `make check` with bin/ on PATH; alone: PATH=bin:$PATH sh tests/tool/interp.sh

. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
QUIET_STDOUT=1
run() { xf-interp "$@" >out 2>err; rc=$?; }

# ---- data and models ----
A="-a c8,p,f16,f -e 2 -b 32"
xf-import synthetic --count 200 --shape 1,12,12 --num-classes 4 -s 1 -o d.xfs &&
xf-import synthetic --count 50 --shape 1,8,8 --num-classes 4 -s 1 -o small.xfs &&
xf-train $A -s 1 -o a.tar d.xfs 2>/dev/null &&
xf-train $A -s 2 -o b.tar d.xfs 2>/dev/null &&
xf-train -a c4,p,f16,f -e 1 -b 32 -s 1 -o c.tar d.xfs 2>/dev/null &&
xf-train -a c8,b,p,f -e 1 -b 32 -s 1 -o bn1.tar d.xfs 2>/dev/null &&
xf-train -a c8,b,p,f -e 1 -b 32 -s 2 -o bn2.tar d.xfs 2>/dev/null &&
head -c 3000 a.tar >trunc.tar ||
	{ echo "Bail out! cannot make test data"; exit 1; }

# ---- usage: exit 2, one line ----
err_table usage '' d.xfs <<'EOF'
2|--direction line: give two models|-m a.tar
2|--direction random: give one model|--direction random -m a.tar -m b.tar
2|-m: at most 2 models|-m a.tar -m b.tar -m a.tar
2|--direction sideways: want line|--direction sideways -m a.tar
2|--bn odd: want interp or reset|--bn odd -m a.tar -m b.tar
2|--bn-data: only with --bn reset|--bn-data d.xfs -m a.tar -m b.tar
2|--biasbn: only with --direction random or plane|--biasbn -m a.tar -m b.tar
2|--range 1:0: want LO < HI|--range 1:0 -m a.tar -m b.tar
2|--range x: want LO:HI|--range x -m a.tar -m b.tar
2|-n 1: want an integer|-n 1 -m a.tar -m b.tar
2|-b 0: want an integer|-b 0 -m a.tar -m b.tar
EOF
usage_cases xf-interp d.xfs "" "--nosuch -m a.tar -m b.tar" \
    "-m a.tar -m b.tar d.xfs extra"

# ---- bad data and checkpoints: exit 1, one line naming file and tensor ----
err_table data <<'EOF'
1|xf-interp: c.tar: tensor conv1.weight: shape 4x1x3x3, want 8x1x3x3|-m a.tar -m c.tar d.xfs
1|xf-interp: a.tar: tensor conv1.weight: shape 8x1x3x3, want 4x1x3x3|-m c.tar -m a.tar d.xfs
1|xf-interp: bn1.tar: tensor 2 is bn1.weight, want fc1.weight|-m a.tar -m bn1.tar d.xfs
1|xf-interp: small.xfs: a.tar: images are 1x8x8, the model takes 1x12x12|-m a.tar -m b.tar small.xfs
1|xf-interp: trunc.tar: |-m trunc.tar -m b.tar d.xfs
1|xf-interp: nosuch.xfs: |-m a.tar -m b.tar nosuch.xfs
EOF

# ---- the line: endpoints are the models, bit for bit ----
xf-interp -n 5 --summary sum.xfs -m a.tar -m b.tar d.xfs | xf-cat >line.tsv
xf-eval -m a.tar -m b.tar d.xfs | xf-cat >eval.tsv
check "line: fields" test "$(head -1 line.tsv)" = \
    "$(printf 'lambda\tn\tcorrect\tacc\terror\tloss\tens_acc\tens_error\tens_loss')"
check "line: 5 points, 0 .. 1" test "$(field lambda <line.tsv | tr '\n' ' ')" = "0 0.25 0.5 0.75 1 "
# ends ROW FILE: the loss and acc of line ROW (head or tail) of table FILE.
ends() {
	local l a
	l=$(field loss <"$2" | "$1" -1) a=$(field acc <"$2" | "$1" -1)
	[ -n "$l" ] && [ -n "$a" ] && echo "$l/$a"
}
check "line: λ = 0 has xf-eval -m a.tar's loss and acc bits" \
    eq "$(ends head line.tsv)" "$(ends head eval.tsv)"
check "line: λ = 1 has xf-eval -m b.tar's loss and acc bits" \
    eq "$(ends tail line.tsv)" "$(ends tail eval.tsv)"
xf-interp -b 7 -n 3 -m a.tar -m b.tar d.xfs | xf-cat >line7.tsv
xf-eval -b 7 -m a.tar d.xfs | xf-cat >eval7.tsv
check "line -b 7: λ = 0 is xf-eval -b 7" eq \
    "$(field loss <line7.tsv | head -1)" "$(field loss <eval7.tsv)"
xf-cat sum.xfs >sum.tsv
check "summary: kind interp-summary" eval 'xf-cat --header sum.xfs | grep -q "\"kind\":\"interp-summary\""'
check "summary: barrier and per-module distances" test \
    "$(head -1 sum.tsv | cut -f1,9-)" = \
    "$(printf 'direction\tbarrier\tbarrier_loss\tdist\tdist_conv1\tdist_fc1\tdist_fc2')"
check "summary: module distances² sum to dist²" awk -F'\t' \
    'NR == 2 { s = $12 * $12 + $13 * $13 + $14 * $14; d = s - $11 * $11; if (d * d > 1e-18 * s * s) bad = 1 } END { exit bad || NR != 2 }' sum.tsv
check "summary: error_max = max over the points" eq \
    "$(field error_max <sum.tsv)" "$(field error <line.tsv | sort -g | tail -1)"
xf-interp -n 4 --summary self.xfs -m a.tar -m a.tar d.xfs >/dev/null
check "summary: a model with itself has barrier 0 and dist 0" test \
    "$(xf-cat self.xfs | field barrier) $(xf-cat self.xfs | field dist)" = "0 0"
xf-interp -n 5 -m a.tar -m b.tar <d.xfs | xf-cat >stdin.tsv
check "line: stdin gives the same" same line.tsv stdin.tsv
xf-interp -n 5 -j 1 -o j1.xfs -m a.tar -m b.tar d.xfs
xf-cat j1.xfs >j1.tsv
check "line: -j 1 -o gives the same" same j1.tsv line.tsv

# ---- random, plane, gradient ----
xf-interp --direction random -n 5 -s 3 -m a.tar d.xfs >r1.xfs
xf-interp --direction random -n 5 -s 3 -m a.tar d.xfs >r2.xfs
xf-interp --direction random -n 5 -s 4 -m a.tar d.xfs >r3.xfs
check "random: same seed, same bytes" same r1.xfs r2.xfs
check "random: another seed, other losses" \
    ne "$(xf-cat r1.xfs | field loss)" "$(xf-cat r3.xfs | field loss)"
xf-cat r1.xfs >r1.tsv
check "random: t over -1 .. 1" test "$(field t <r1.tsv | tr '\n' ' ')" = "-1 -0.5 0 0.5 1 "
check "random: t = 0 is the model" eq \
    "$(field loss <r1.tsv | sed -n 3p)" "$(field loss <eval.tsv | head -1)"
xf-interp --direction plane -n 5 -s 3 -m a.tar d.xfs | xf-cat >plane.tsv
check "plane: 25 records, fields t u" test \
    "$(($(wc -l <plane.tsv) - 1)) $(head -1 plane.tsv | cut -f1,2)" = "25 $(printf 't\tu')"
check "plane: u = 0 is the random line of the same seed" eq \
    "$(awk -F'\t' 'NR > 1 && $2 == 0 { print $7 }' plane.tsv | tr '\n' ' ')" \
    "$(field loss <r1.tsv | tr '\n' ' ')"
xf-interp --direction gradient -n 3 --range 0:0.5 --summary g.xfs -m a.tar d.xfs | xf-cat >grad.tsv
check "gradient: fields" test "$(head -1 grad.tsv)" = \
    "$(printf 'eta\tn\tcorrect\tacc\terror\tloss\tgrad_norm\tgrad_change\tstep')"
check "gradient: η = 0 has zero gradient change" test \
    "$(field grad_change <grad.tsv | head -1)" = 0
check "gradient: summary has grad_norm, lipschitz_max" eval \
    'xf-cat g.xfs | head -1 | grep -q "grad_norm	grad_change_max	lipschitz_max"'

# ---- batch norm ----
xf-interp -n 3 --bn reset -m bn1.tar -m bn2.tar d.xfs | xf-cat >reset1.tsv
xf-interp -n 3 --bn reset --bn-data d.xfs -m bn1.tar -m bn2.tar <d.xfs | xf-cat >reset2.tsv
check "bn reset: runs; --bn-data the same data gives the same" same reset1.tsv reset2.tsv
xf-interp -n 3 -m bn1.tar -m bn2.tar d.xfs | xf-cat >interp.tsv
check "bn interp: λ = 0 is xf-eval" eq "$(field loss <interp.tsv | head -1)" \
    "$(xf-eval -m bn1.tar d.xfs | xf-cat | field loss)"
check "bn reset: the statistics change the result" differ reset1.tsv interp.tsv

# ---- pipes ----
xf-interp --direction plane -n 40 -m a.tar d.xfs 2>err | head -c 10 >/dev/null
check "a reader that goes away: quiet" test ! -s err

tap_done
