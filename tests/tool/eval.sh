#!/bin/bash
# xf-eval's command-line contract (TAP): usage errors, bad data and
# checkpoints, the summary, per-example records, the agreement table and
# feature streams.  Tiny data, mlp and cnn-s: it runs in seconds.
#
# Run by `make check` with bin/ on PATH; alone: PATH=bin:$PATH sh tests/tool/eval.sh

. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
run() { xf-eval "$@" >out 2>err; rc=$?; }
# Number of floats in "x" of the first record of a feature stream.
dims() { xf-cat --json "$1" | head -1 | sed 's/.*"x":\[//; s/\].*//' | tr ',' '\n' | wc -l; }

# ---- data and models ----
xf-import synthetic -n 100 -s 1 -o d.xfs &&
xf-import synthetic -n 30 -s 1 --classes 0,1,2 -o b.xfs &&
xf-import synthetic --shape 3,8,8 -n 20 -s 1 -o rgb.xfs &&
xf-import synthetic --count 3 --classes 9 -o empty.xfs &&
xf-train -a mlp -b 16 --steps 4 -s 1 -o m1.tar d.xfs &&
xf-train -a mlp -b 16 --steps 4 -s 2 -o m2.tar d.xfs &&
xf-train -a cnn-s -b 16 --steps 3 -o c.tar d.xfs &&
xf-train -a mlp -b 16 --steps 2 -o m3.tar b.xfs &&
cp m1.tar m1copy.tar &&
head -c 3000 m1.tar >trunc.tar &&
head -c 200000 c.tar >trunc-c.tar ||
	{ echo "Bail out! cannot make test data"; exit 1; }

# ---- usage: exit 2, one line ----
err_table usage '' d.xfs <<'EOF'
2|-b 0: want an integer|-m m1.tar -b 0
2|--pool 0: want an integer|-m c.tar --features conv1 --pool 0
2|--features: give one model|-m m1.tar -m m2.tar --features fc1
2|--pairs: give two or more models|-m m1.tar --pairs p.xfs
2|has no module nosuch|-m c.tar --features nosuch
2|--features with several modules needs -o prefix|-m c.tar --features conv1,fc1
2|--pool 64: conv2 is 28x28|-m c.tar --features conv2 --pool 64
2|-j x: want an integer|-m m1.tar -j x
EOF
usage_cases xf-eval d.xfs "" "--nosuch -m m1.tar" "-m m1.tar d.xfs extra"

# ---- bad data and checkpoints: exit 1, one line naming the file ----
err_table data <<'EOF'
1|xf-eval: rgb.xfs: m1.tar: images are 3x8x8, the model takes 1x28x28|-m m1.tar rgb.xfs
1|xf-eval: d.xfs: m3.tar: data has 10 classes, the model's head has 3|-m m1.tar -m m3.tar d.xfs
1|xf-eval: trunc.tar: |-m trunc.tar d.xfs
1|xf-eval: trunc-c.tar: |-m m1.tar -m trunc-c.tar d.xfs
1|xf-eval: nosuch.tar: |-m nosuch.tar d.xfs
1|xf-eval: nosuch.xfs: |-m m1.tar nosuch.xfs
1|xf-eval: m2.tar: header|-m m1.tar m2.tar
1|xf-eval: empty.xfs: no records|-m m1.tar empty.xfs
EOF
rm -f half.xfs
xf-eval -m m1.tar -o half.xfs empty.xfs 2>/dev/null
check "data: no records leaves no half summary" test ! -e half.xfs
xf-eval -m m1.tar d.xfs | xf-eval -m m1.tar >out 2>err; rc=$?
expect_err "data: a table on stdin is not images" 1 "xf-eval: stdin: header: kind \"eval\""

# ---- the summary ----
run -m m1.tar -m c.tar d.xfs
xf-cat out >sum.tsv
check "summary: exit 0" test "$rc" = 0
check "summary: fields" test "$(head -1 sum.tsv)" = "$(printf 'model\tn\tcorrect\tacc\terror\tloss')"
check "summary: one record per model, in order" test "$(field model <sum.tsv | tr '\n' ' ')" = "m1.tar c.tar "
check "summary: n is the record count" test "$(field n <sum.tsv | tr '\n' ' ')" = "100 100 "
check "summary: acc = correct / n, error = 1 - acc" awk -F'\t' \
    'NR > 1 { d = $4 - $3 / $2; e = $5 - (1 - $4); if (d * d > 1e-20 || e * e > 1e-20) bad = 1 } END { exit bad || NR < 2 }' sum.tsv
check "summary: header kind eval, data and command in provenance" eval \
    'xf-cat --header out | grep -q "\"kind\":\"eval\".*xf-import.*xf-eval -m m1.tar"'
xf-eval -m m1.tar -m c.tar <d.xfs | xf-cat >stdin.tsv
check "summary: stdin gives the same" same sum.tsv stdin.tsv
xf-eval -b 7 -j 1 -m m1.tar -m c.tar d.xfs | xf-cat >b7.tsv
check "summary: -b 7 -j 1 gives the same numbers" same sum.tsv b7.tsv
correct1=$(field correct <sum.tsv | head -1)

# ---- per-example records ----
xf-eval -m m1.tar --examples ex1.xfs -o /dev/null d.xfs
xf-cat ex1.xfs >ex1.tsv
check "examples: fields for one model" test "$(head -1 ex1.tsv)" = \
    "$(printf 'i\ty\tpred0\tcorrect0\tloss0\tprob0')"
check "examples: one record per example" test "$(($(wc -l <ex1.tsv) - 1))" = 100
check "examples: correct0 agrees with the summary" \
    test "$(field correct0 <ex1.tsv | grep -c true)" = "$correct1"
check "examples: correct0 is pred0 == y" awk -F'\t' \
    'NR > 1 && (($2 == $3) != ($4 == "true")) { bad = 1 } END { exit bad || NR < 2 }' ex1.tsv
check "examples: loss0 = -ln prob0" awk -F'\t' \
    'NR > 1 { d = $5 + log($6); if (d > 1e-4 || d < -1e-4) bad = 1 } END { exit bad || NR < 2 }' ex1.tsv
xf-eval -m m1.tar -m m2.tar --examples ex2.xfs -o /dev/null d.xfs
xf-cat ex2.xfs >ex2.tsv
check "examples: two models add pred1 ... and mistake" test \
    "$(head -1 ex2.tsv)" = \
    "$(printf 'i\ty\tpred0\tcorrect0\tloss0\tprob0\tpred1\tcorrect1\tloss1\tprob1\tmistake')"
check "examples: mistake is common/only0/only1/none as the models' errors" \
    awk -F'\t' 'NR > 1 { a = $4 == "false"; b = $8 == "false"
	want = a && b ? "common" : a ? "only0" : b ? "only1" : "none"
	if ($11 != want) bad = 1 } END { exit bad || NR < 2 }' ex2.tsv

# ---- the agreement table ----
xf-eval -m m1.tar -m m1copy.tar --pairs same.xfs -o /dev/null d.xfs
xf-cat same.xfs >same.tsv
check "pairs: fields" test "$(head -1 same.tsv)" = \
    "$(printf 'a\tb\tn\tboth_right\tboth_wrong\tsame_wrong\tonly_a_wrong\tonly_b_wrong')"
check "pairs: a model and its copy: only_a_wrong = only_b_wrong = 0" \
    test "$(field only_a_wrong <same.tsv) $(field only_b_wrong <same.tsv)" = "0 0"
check "pairs: a model and its copy: both_wrong = same_wrong = its errors" \
    test "$(field both_wrong <same.tsv) $(field same_wrong <same.tsv)" = \
    "$((100 - correct1)) $((100 - correct1))"
check "pairs: a model and its copy: both_right = its correct" \
    eq "$(field both_right <same.tsv)" "$correct1"
xf-eval -m m1.tar -m m2.tar -m c.tar --pairs pairs.xfs -o sum3.xfs d.xfs
xf-cat pairs.xfs >pairs.tsv
check "pairs: three models give pairs 01, 02, 12" test \
    "$(awk -F'\t' 'NR > 1 { printf "%s-%s ", $1, $2 }' pairs.tsv)" = \
    "m1.tar-m2.tar m1.tar-c.tar m2.tar-c.tar "
check "pairs: the four cells sum to n" awk -F'\t' \
    'NR > 1 && $4 + $5 + $7 + $8 != $3 { bad = 1 } END { exit bad || NR < 2 }' pairs.tsv
check "pairs: same_wrong <= both_wrong" awk -F'\t' \
    'NR > 1 && $6 > $5 { bad = 1 } END { exit bad || NR < 2 }' pairs.tsv
# Each model's errors, from the table, match the summary.
xf-cat sum3.xfs | field correct >correct3
e1=$((100 - $(sed -n 1p correct3))) e2=$((100 - $(sed -n 2p correct3)))
got=$(awk -F'\t' 'NR == 2 { print $5 + $7, $5 + $8 }' pairs.tsv)
check "pairs: both_wrong + only_a/b_wrong are the models' errors ($got vs $e1 $e2)" \
    test "$got" = "$e1 $e2"

# ---- feature streams ----
xf-eval -m c.tar --features conv2 -o conv2.xfs d.xfs
check "features: conv2 of cnn-s on 28x28 has 16x28x28 = 12544 floats" \
    test "$(dims conv2.xfs)" = 12544
check "features: header kind, dtype, shape, module" eval \
    'xf-cat --header conv2.xfs | grep -q "\"kind\":\"features\",\"dtype\":\"float32\",\"shape\":\[12544\],\"module\":\"conv2\""'
check "features: one record per example" test "$(xf-cat --no-x conv2.xfs | wc -l)" = 101
check "features: records carry i and y of the input" eval \
    'test "$(xf-cat --no-x conv2.xfs)" = "$(xf-cat --no-x d.xfs)"'
xf-eval -m c.tar --features conv2 --pool 2 d.xfs >pool2.xfs
check "features: --pool 2 gives 16x14x14 = 3136" test "$(dims pool2.xfs)" = 3136
check "features: --pool 2 header shape" eval \
    'xf-cat --header pool2.xfs | grep -q "\"shape\":\[3136\]"'
xf-eval -m c.tar --features conv2,conv4,fc1,fc2 --pool 2 -o act d.xfs
check "features: several modules go to PREFIX.MODULE.xfs" \
    test -s act.conv2.xfs -a -s act.conv4.xfs -a -s act.fc1.xfs -a -s act.fc2.xfs
check "features: conv4 pooled 32x7x7 = 1568, fc1 128 (not pooled), fc2 10" \
    test "$(dims act.conv4.xfs) $(dims act.fc1.xfs) $(dims act.fc2.xfs)" = "1568 128 10"
xf-cat act.conv2.xfs >act.tsv; xf-cat pool2.xfs >pool2.tsv
check "features: -o prefix.conv2.xfs equals the single-module stream but provenance" \
    same act.tsv pool2.tsv
# The head's activation is the logits: its argmax is the prediction.
xf-eval -m m1.tar --examples exm.xfs -o /dev/null d.xfs
xf-eval -m m1.tar --features fc3 -o head.xfs d.xfs
xf-cat exm.xfs | field pred0 >pred.txt
check "features: (the predictions vary)" \
    test "$(wc -l <pred.txt) $(sort -u pred.txt | wc -l | awk '$1 > 2 { print "varied" }')" = "100 varied"
xf-cat head.xfs | awk -F'\t' 'NR > 1 { n = split($3, v, " "); b = 1
	for (j = 2; j <= n; j++) if (v[j] + 0 > v[b] + 0) b = j; print b - 1 }' >argmax.txt
check "features: argmax of the head's activation is pred0" same pred.txt argmax.txt
run -m c.tar --features conv1 d.xfs
check "features: no summary with --features" eval \
    'xf-cat --header out | grep -q "\"kind\":\"features\""'

tap_done
