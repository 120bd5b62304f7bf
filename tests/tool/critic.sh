#!/bin/bash
# xf-critic's command-line contract (TAP): usage errors, bad data and
# checkpoints, the heat map and summary, μ = 0 when θ⁰ = θᶠ, σ → 0 at α = 1
# is the final model, determinism across seeds, workers and threads.  Tiny
# data and models: it runs in seconds.
#
# Run by `make check` with bin/ on PATH; alone: PATH=bin:$PATH sh tests/tool/critic.sh

. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
QUIET_STDOUT=1
run() { xf-critic "$@" >out 2>err; rc=$?; }

# ---- data and models ----
xf-import synthetic --count 200 --shape 1,12,12 --num-classes 4 -s 1 -o d.xfs &&
xf-import synthetic --count 50 --shape 1,8,8 --num-classes 4 -s 1 -o small.xfs &&
xf-train -a c8,p,f16,f -e 1 -b 32 -s 1 --save-init i.tar -o f.tar d.xfs 2>/dev/null &&
xf-train -a c4,p,f16,f -e 1 -b 32 -s 1 -o c.tar d.xfs 2>/dev/null &&
head -c 3000 f.tar >trunc.tar ||
	{ echo "Bail out! cannot make test data"; exit 1; }
G="--alphas 3 --sigmas 4 -k 2"

# ---- usage: exit 2, one line ----
err_table usage '' d.xfs <<'EOF'
2|--modules conv9: f.tar has no module conv9|--modules conv9 --init i.tar -m f.tar
2|--modules fc1,fc1: fc1 twice|--modules fc1,fc1 --init i.tar -m f.tar
2|--eps, --eps-abs: give one|--eps 1.1 --eps-abs 0.2 --init i.tar -m f.tar
2|--alphas 1: want an integer|--alphas 1 --init i.tar -m f.tar
2|-k 0: want an integer|-k 0 --init i.tar -m f.tar
2|--workers 0: want an integer|--workers 0 --init i.tar -m f.tar
2|--sigma-max 0: want a number|--sigma-max 0 --init i.tar -m f.tar
EOF
usage_cases xf-critic d.xfs "-m f.tar" "--init i.tar" \
    "--nosuch --init i.tar -m f.tar" "--init i.tar -m f.tar d.xfs extra"

# ---- bad data and checkpoints: exit 1, one line naming file and tensor ----
err_table data "$G" <<'EOF'
1|xf-critic: c.tar: tensor conv1.weight: shape 4x1x3x3, want 8x1x3x3|--init c.tar -m f.tar d.xfs
1|xf-critic: small.xfs: f.tar: images are 1x8x8, the model takes 1x12x12|--init i.tar -m f.tar small.xfs
1|xf-critic: trunc.tar: |--init trunc.tar -m f.tar d.xfs
1|xf-critic: nosuch.xfs: |--init i.tar -m f.tar nosuch.xfs
EOF

# ---- the heat map and the summary ----
xf-critic $G --summary sum.xfs --init i.tar -m f.tar d.xfs >h.xfs
xf-cat h.xfs >h.tsv
xf-cat sum.xfs >sum.tsv
check "heat map: fields" test "$(head -1 h.tsv)" = \
    "$(printf 'module\talpha\tsigma\tloss\terror\tfeasible\tmu')"
check "heat map: modules × alphas × sigmas records" test "$(($(wc -l <h.tsv) - 1))" = 36
check "heat map: kind critic" eval 'xf-cat --header h.xfs | grep -q "\"kind\":\"critic\""'
check "heat map: α-major grid" test "$(field alpha <h.tsv | head -5 | tr '\n' ' ')" = "0 0 0 0 0.5 "
check "summary: one record per module and the network" test \
    "$(field module <sum.tsv | tr '\n' ' ')" = "conv1 fc1 fc2 network "
check "summary: network μ is the sum" awk -F'\t' \
    'NR > 1 && $1 != "network" { s += $10 } $1 == "network" { net = 1; d = $10 - s; if (d * d > 1e-12 * s * s) bad = 1 } END { exit bad || !net }' sum.tsv
check "σ → 0 at α = 1 gives the final error" eq \
    "$(awk -F'\t' '$1 == "fc2" && $2 == 1 && $3 == 1e-16 { print $5 }' h.tsv)" \
    "$(field final_error <sum.tsv | head -1)"
check "final error is xf-eval's" eq "$(field final_error <sum.tsv | head -1)" \
    "$(xf-eval -m f.tar d.xfs | xf-cat | field error)"
xf-critic $G --summary same.xfs --init f.tar -m f.tar d.xfs >/dev/null
check "θ⁰ = θᶠ: μ = 0 for every module" test \
    "$(xf-cat same.xfs | field mu | tr '\n' ' ')" = "0 0 0 0 "
xf-critic $G --eps-abs 1 --summary all.xfs --init i.tar -m f.tar d.xfs >/dev/null
check "--eps-abs 1: every cell feasible, μ = 0" test \
    "$(xf-cat all.xfs | field feasible | tr '\n' ' ')$(xf-cat all.xfs | field mu | tail -1)" = "12 12 12 36 0"
xf-critic $G --relative --modules fc2 --summary rel.xfs --init i.tar -m f.tar d.xfs | xf-cat >rel.tsv
check "--relative: the largest σ is the weights' RMS" eq \
    "$(field sigma <rel.tsv | tail -1)" "$(xf-cat rel.xfs | field sigma_scale | head -1)"
check "--modules: only those" test "$(field module <rel.tsv | sort -u)" = fc2

# ---- determinism ----
xf-critic $G -s 5 --init i.tar -m f.tar d.xfs | xf-cat >s5a.tsv
xf-critic $G -s 5 --init i.tar -m f.tar <d.xfs | xf-cat >s5b.tsv
xf-critic $G -s 6 --init i.tar -m f.tar d.xfs | xf-cat >s6.tsv
xf-critic $G -s 5 -j 1 --init i.tar -m f.tar d.xfs | xf-cat >j1.tsv
xf-critic $G -s 5 --workers 3 --init i.tar -m f.tar d.xfs | xf-cat >w3.tsv
xf-critic $G -s 5 -j 2 --workers 1 --init i.tar -m f.tar d.xfs | xf-cat >w1.tsv
check "same seed, same records" same s5a.tsv s5b.tsv
check "another seed, other records" differ s5a.tsv s6.tsv
check "-j 1 gives the same" same s5a.tsv j1.tsv
check "--workers 3 gives the same" same s5a.tsv w3.tsv
check "--workers 1 with a two-thread engine gives the same" same s5a.tsv w1.tsv
xf-critic -v $G --modules fc2 --init i.tar -m f.tar d.xfs 2>err >/dev/null
check "-v: progress on stderr with cells/s" grep -q 'fc2: mu .* cells/s' err

tap_done
