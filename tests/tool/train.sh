#!/bin/bash
# xf-train's command-line contract (TAP): usage errors, bad data and
# checkpoints, determinism, exact resume, freezing, head replacement, the
# checkpoint series, the log, and the NaN policy.  Tiny data, mlp and cnn-s,
# a few steps: it runs in seconds.
#
# Run by `make check` with bin/ on PATH; alone: PATH=bin:$PATH sh tests/tool/train.sh

. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
# run ARGS...: xf-train with stderr in ./err and the exit status in $rc.
run() { xf-train "$@" 2>err; rc=$?; }
# same_tensor A B T, differ_tensor A B T: tensor T is in both checkpoints
# A and B, with bytes, and equal (different) in them.
tensors() { rm -f t.a t.b; tar -xOf "$1" "$3" >t.a && tar -xOf "$2" "$3" >t.b; }
same_tensor() { tensors "$@" && same t.a t.b; }
differ_tensor() { tensors "$@" && differ t.a t.b; }

# ---- data and a few models ----
xf-import synthetic -n 100 -s 1 -o d.xfs &&
xf-import synthetic -n 60 -s 1 --classes 0,1,2 -o b.xfs &&
xf-import synthetic --shape 3,8,8 -n 50 -s 1 -o rgb.xfs &&
xf-train -a mlp -b 16 --steps 3 -o m.tar d.xfs &&
xf-train -a cnn-s -b 16 --steps 4 -o p.tar d.xfs &&
xf-train -a mlp -b 16 --steps 2 -o m3.tar b.xfs &&
head -c 3000 m.tar >trunc.tar &&
head -c 4096 /dev/urandom >junk.tar ||
	{ echo "Bail out! cannot make test data"; exit 1; }
head -c 200000 p.tar >trunc-p.tar

# ---- usage: exit 2, one line naming the option ----
# want | stderr contains | arguments (data d.xfs and -o out.tar are added)
err_table usage '' '-o out.tar d.xfs' <<'EOF'
2|-e -1: want an integer|-a mlp -e -1
2|-e 0: want an integer|-a mlp -e 0
2|-b 0: want an integer|-a mlp -b 0
2|-b 65537|-a mlp -b 65537
2|-l abc: want a number|-a mlp -l abc
2|-l 1e30|-a mlp -l 1e30
2|-l nan|-a mlp -l nan
2|--momentum 2|-a mlp --momentum 2
2|--wd -1|-a mlp --wd -1
2|-s -1|-a mlp -s -1
2|--steps 0|-a mlp --steps 0
2|--log-every 0|-a mlp --log-every 0
2|--copy and --new-head need --init|-a mlp --copy 1
2|--copy and --new-head need --init|--new-head
2|--resume continues a run with its own settings|--resume m.tar -l 0.1
2|--resume continues a run with its own settings|--resume m.tar -b 8
2|--resume continues a run with its own settings|--resume m.tar -s 2
2|--resume continues a run with its own settings|--resume m.tar -a mlp
2|--resume continues a run with its own settings|--resume m.tar --init p.tar
2|--resume continues a run with its own settings|--resume m.tar --freeze 1
2|--resume continues a run with its own settings|--resume m.tar --schedule cosine
2|-a: the architecture comes from --init p.tar|--init p.tar -a cnn
2|-a nosuch: spec 'nosuch'|-a nosuch
2|no head|-a c16,p
2|b must follow a conv|-a f10,b,f
2|--freeze 3: the model has 2 layers below the head|-a mlp --freeze 3
2|--copy 6: the model has 5 layers below the head|--init p.tar --copy 6
2|--schedule foo|-a mlp --schedule foo
2|--schedule step:5,2:0.1|-a mlp --schedule step:5,2:0.1
2|--schedule step:1:0|-a mlp --schedule step:1:0
EOF

# An unknown option or operand: getopt's line naming it, then the usage.
for args in "--nosuch" "-x" "-a mlp d.xfs extra"; do
	eval "set -- $args"
	run "$@" -o out.tar d.xfs
	if [ "$rc" = 2 ] && grep -q '^usage: xf-train ' err &&
	    { [ "$args" = "-a mlp d.xfs extra" ] ||
	    head -1 err | grep -qF -e "${args#-}"; }; then
		pass "usage: $args: exit 2 and the usage"
	else
		not_ok "usage: $args: exit 2 and the usage" "exit $rc"
	fi
done

# ---- bad data and checkpoints: exit 1, one line naming the file ----
err_table data '' '-o out.tar' <<'EOF'
1|xf-train: rgb.xfs: m.tar: images are 3x8x8, the model takes 1x28x28|--init m.tar rgb.xfs
1|xf-train: rgb.xfs: images are 3x8x8|-a mlp --val rgb.xfs d.xfs
1|xf-train: d.xfs: data has 10 classes, the model's head has 3|-a mlp --val d.xfs b.xfs
1|xf-train: trunc.tar: |--init trunc.tar d.xfs
1|xf-train: trunc-p.tar: |--init trunc-p.tar d.xfs
1|xf-train: junk.tar: |--init junk.tar d.xfs
1|xf-train: trunc.tar: |--resume trunc.tar d.xfs
1|xf-train: nosuch.tar: |--init nosuch.tar d.xfs
1|xf-train: nosuch.xfs: |-a mlp nosuch.xfs
1|xf-train: m.tar: |-a mlp m.tar
1|xf-train: m3.tar: tensor fc3|--resume m3.tar d.xfs
EOF
# A checkpoint as data on stdin.
xf-train -a mlp -o out.tar <m.tar 2>err; rc=$?
expect_err "data: a checkpoint on stdin" 1 "xf-train: stdin: "

# ---- determinism ----
xf-train -a mlp -b 16 --steps 5 -s 7 -o s7a.tar d.xfs
xf-train -a mlp -b 16 --steps 5 -s 7 -j 1 -o s7b.tar d.xfs
xf-train -a mlp -b 16 --steps 5 -s 8 -o s8.tar d.xfs
check "determinism: same seed, same bytes (-j 1 and all cores)" same s7a.tar s7b.tar
check "determinism: another seed, other bytes" differ s7a.tar s8.tar
xf-train -a cnn-s -b 16 --steps 3 -s 7 -o c7a.tar d.xfs
xf-train -a cnn-s -b 16 --steps 3 -s 7 -j 1 -o - d.xfs >c7b.tar
check "determinism: cnn-s to a file and to stdout, -j 1 and all cores" same c7a.tar c7b.tar

# ---- resume: k steps then --resume to N is N steps straight ----
# 100 images in batches of 16 make 7 steps an epoch: 5 + 7 crosses one.
for arch in mlp cnn-s cnn-bn; do
	rm -f straight.tar part.tar resumed.tar
	xf-train -a "$arch" -b 16 --steps 12 -o straight.tar d.xfs &&
	xf-train -a "$arch" -b 16 --steps 5 -o part.tar d.xfs &&
	xf-train --resume part.tar --steps 12 -o resumed.tar d.xfs
	check "resume: $arch, 5 steps + 7 = 12 steps straight, byte for byte" \
	    same straight.tar resumed.tar
done
rm -f straight.tar resumed.tar
xf-train -a mlp -b 16 -e 2 --schedule cosine --momentum 0.5 --wd 1e-3 \
    --save-steps 4 --save-prefix cos -o straight.tar d.xfs &&
xf-train --resume cos-e000-s0000004.tar -e 2 -o resumed.tar d.xfs
check "resume: cosine from a series checkpoint, -e 2 twice" \
    same straight.tar resumed.tar
rm -f straight.tar part.tar resumed.tar
# AnB+: the resumed run must take every layer, not only the copied ones.
xf-train --init p.tar --copy 2 -b 16 --steps 9 -o straight.tar b.xfs &&
xf-train --init p.tar --copy 2 -b 16 --steps 4 -o part.tar b.xfs &&
xf-train --resume part.tar --steps 9 -o resumed.tar b.xfs
check "resume: --copy 2 run" same straight.tar resumed.tar
rm -f straight.tar part.tar resumed.tar
xf-train --init p.tar --copy 2 --freeze 2 -b 16 --steps 9 -o straight.tar b.xfs &&
xf-train --init p.tar --copy 2 --freeze 2 -b 16 --steps 4 -o part.tar b.xfs &&
xf-train --resume part.tar --steps 9 -o resumed.tar b.xfs
check "resume: --copy 2 --freeze 2 run" same straight.tar resumed.tar
check "resume: the resumed run keeps the frozen layers" \
    same_tensor resumed.tar p.tar conv2.weight

# ---- freezing and copying (Yosinski's AnB, AnB+, random frozen) ----
xf-train --init p.tar --copy 2 --freeze 2 -b 16 --steps 6 -o anb.tar b.xfs
for t in conv1.weight conv1.bias conv2.weight conv2.bias; do
	check "AnB: frozen $t is byte-identical to --init's" \
	    same_tensor anb.tar p.tar $t
done
check "AnB: conv3.weight is not --init's" \
    differ_tensor anb.tar p.tar conv3.weight
xf-train --init p.tar --copy 2 -b 16 --steps 6 -o anbplus.tar b.xfs
check "AnB+: conv1.weight is fine-tuned" \
    differ_tensor anbplus.tar p.tar conv1.weight
xf-train -a cnn-s --freeze 3 -b 16 --steps 6 --save-init rinit.tar -o rf.tar d.xfs
check "random frozen: conv3.weight stays at its random init" \
    same_tensor rf.tar rinit.tar conv3.weight
check "random frozen: conv4.weight trains" \
    differ_tensor rf.tar rinit.tar conv4.weight
xf-train -a cnn-s -b 16 --steps 6 -s 3 -o other.tar d.xfs &&
xf-train --init other.tar --copy 0 --freeze 0 -b 16 --steps 6 -o c0.tar d.xfs &&
xf-train -a cnn-s -b 16 --steps 6 -o ri.tar d.xfs
for t in conv1.weight fc1.weight fc2.bias; do
	check "--copy 0: $t as from random init with the same seed" \
	    same_tensor c0.tar ri.tar $t
done

# ---- head replacement (P-T) ----
xf-train --init p.tar --freeze 5 -b 16 --steps 4 -o pt.tar b.xfs
bytes=$(tar -xOf pt.tar fc2.weight | wc -c)
check "P-T: 3-class data give a head of shape (3, 128)" test "$bytes" = 1536
bytes=$(tar -xOf pt.tar fc2.bias | wc -c)
check "P-T: and a bias of 3" test "$bytes" = 12
same=0
for t in conv1.weight conv2.weight conv3.weight conv4.weight fc1.weight fc1.bias; do
	same_tensor pt.tar p.tar $t && same=$((same + 1))
done
check "P-T --freeze 5: every layer below the head copied and kept" test "$same" = 6
if tar -xOf pt.tar manifest.msgpack | grep -aq 'p\.tar'; then
	pass "P-T: the manifest names the parent"
else not_ok "P-T: the manifest names the parent"; fi
xf-train --init p.tar --new-head -b 16 --steps 1 -l 0 --save-init nh.tar -o /dev/null d.xfs
check "--new-head: same class count, new head" \
    differ_tensor nh.tar p.tar fc2.weight
check "--new-head: the rest copied" \
    same_tensor nh.tar p.tar fc1.weight
xf-train --init p.tar -b 16 --steps 1 -l 0 --save-init keep.tar -o /dev/null d.xfs
check "--init without --new-head, same classes: the head copied" \
    same_tensor keep.tar p.tar fc2.weight

# ---- training lowers the loss ----
xf-train -a mlp -b 16 -e 3 --log-every 1 --log log.xfs -o /dev/null d.xfs
first=$(xf-cat log.xfs | awk -F'\t' 'NR > 1 && NR <= 4 { s += $3 } END { print s / 3 }')
last=$(xf-cat log.xfs | awk -F'\t' '{ l[NR] = $3 } END { print (l[NR] + l[NR-1] + l[NR-2]) / 3 }')
check "loss falls: first three steps $first, last three $last" \
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 2) }'

# ---- the log ----
xf-train -a mlp -b 16 -e 2 --log-every 3 --val b.xfs --log log.xfs -o /dev/null d.xfs 2>err
rc=$?
check "log: exit 0 with --val" test "$rc" = 0
want='step epoch loss acc lr grad_norm grad_norm.fc1 grad_norm.fc2 grad_norm.fc3 dist.fc1 dist.fc2 dist.fc3 val_loss val_acc'
got=$(xf-cat log.xfs | head -1 | tr '\t' ' ')
check "log: fields" test "$got" = "$want"
# Logged at multiples of 3, at epoch ends (7, 14) and the last step.
got=$(xf-cat log.xfs | awk -F'\t' 'NR > 1 { printf "%s,", $1 }')
check "log: steps 3,6,7,9,12,14 (got $got)" test "$got" = "3,6,7,9,12,14,"
got=$(xf-cat log.xfs | awk -F'\t' 'NR > 1 && $14 != "" { printf "%s,", $1 }')
check "log: val_acc at epoch ends only (got $got)" test "$got" = "7,14,"
xf-train -a mlp -b 16 --steps 10 --val b.xfs --val-every 4 --log-every 100 \
    --log log2.xfs -o /dev/null d.xfs
got=$(xf-cat log2.xfs | awk -F'\t' 'NR > 1 && $14 != "" { printf "%s,", $1 }')
check "log: --val-every 4: val at 4, 8 and 10 (last), not the epoch end 7 (got $got)" \
    test "$got" = "4,8,10,"
if xf-cat --header log.xfs | grep -q '"kind":"log".*xf-train -a mlp'; then
	pass "log: header kind log, command line in provenance"
else not_ok "log: header kind log, command line in provenance"; fi

# ---- the checkpoint series and --save-init ----
mkdir series
xf-train -a mlp -b 16 -e 3 --save-every 1 --save-prefix series/run \
    --save-init init.tar -o last.tar d.xfs
got=$(cd series && echo *)
check "--save-every 1: $got" test "$got" = \
    "run-e000-s0000000.tar run-e001-s0000007.tar run-e002-s0000014.tar run-e003-s0000021.tar"
check "--save-every: the last of the series is the final checkpoint" \
    same series/run-e003-s0000021.tar last.tar
check "--save-init: the weights of step 0" \
    same_tensor init.tar series/run-e000-s0000000.tar fc1.weight
if tar -tf init.tar >list && grep -q '^fc1\.weight$' list &&
    ! grep -q momentum list; then
	pass "--save-init: the weights and no optimiser state"
else not_ok "--save-init: the weights and no optimiser state"; fi
xf-train -a mlp -b 16 -e 3 --save-every 2 -o /dev/null d.xfs
check "--save-every 2: default prefix, epochs 0 and 2" \
    test "$(echo ckpt-*)" = "ckpt-e000-s0000000.tar ckpt-e002-s0000014.tar"
xf-train -a mlp -b 16 --steps 12 --save-steps 5 --save-prefix st -o /dev/null d.xfs
check "--save-steps 5: steps 0, 5, 10" \
    test "$(echo st-*)" = "st-e000-s0000000.tar st-e000-s0000005.tar st-e001-s0000010.tar"

# ---- NaN: exit 1 naming the step; -o untouched; the log kept ----
cp m.tar keep-out.tar
run -a mlp -b 16 --steps 10 -l 1e6 --log-every 1 --log nan.xfs -o keep-out.tar d.xfs
expect_err "NaN: exit 1, one line naming the step" 1 "step 3 (epoch 1): loss is NaN"
check "NaN: the existing -o file is untouched" same keep-out.tar m.tar
got=$(xf-cat nan.xfs | awk -F'\t' 'NR > 1 { printf "%s,", $1 }')
check "NaN: the log keeps steps 1,2 (got $got)" test "$got" = "1,2,"

tap_done
