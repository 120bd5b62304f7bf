#!/bin/bash
# Faults: kill -9 during saves, full disks, file size limits, closed and
# slow pipes, concurrent writers.  A checkpoint is always the old complete
# file or the new one, never torn, never missing once it has existed.
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }

xf-import synthetic --count 200 -s 1 -o d.xfs
# Two complete checkpoints: the old one, and the new one a run will write.
xf-train -a cnn-s --steps 2 -s 1 -o old.tar d.xfs
xf-train -a cnn-s --steps 6 -s 2 -o new.tar d.xfs
old=$(md5sum < old.tar) new=$(md5sum < new.tar)

# kill -9 at moments spread over the whole run, saves included: every run
# also writes a series checkpoint at every step, so most moments fall
# inside a save.
start=$(date +%s%N)
xf-train -a cnn-s --steps 6 -s 2 --save-steps 1 --save-prefix probe -o probe.tar d.xfs
dur=$(( ($(date +%s%N) - start) / 1000000 ))   # ms
trials=60 torn=0 missing=0 newer=0
for i in $(seq $trials); do
	cp old.tar out.tar
	xf-train -a cnn-s --steps 6 -s 2 --save-steps 1 --save-prefix s -o out.tar d.xfs &
	pid=$!
	delay=$(( (i * 7919) % (dur + 20) ))
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	if [ ! -e out.tar ]; then
		missing=$((missing + 1))
	else
		h=$(md5sum < out.tar)
		[ "$h" = "$new" ] && newer=$((newer + 1))
		[ "$h" = "$old" ] || [ "$h" = "$new" ] || torn=$((torn + 1))
	fi
	# Series checkpoints must be complete too: each one a readable tar.
	for s in s-*.tar; do
		[ -e "$s" ] || continue
		xf-eval -m "$s" d.xfs > /dev/null 2>&1 || torn=$((torn + 1))
	done
	rm -f s-*.tar
done
ok $(( torn == 0 && missing == 0 ? 0 : 1 )) \
    "kill -9 x$trials over a ${dur} ms run: $torn torn, $missing missing, $newer finished"
# What xf-train(1) says may remain: PATH.tmp.HOST.PID.XXXXXX, beside an
# output, of a run killed by SIGKILL; the next run onto PATH removes it.
host=$(hostname | tr ./ __)
stray=$(ls | grep -v -E "^(d\.xfs|old\.tar|new\.tar|out\.tar|probe.*\.tar|(out|s-e[0-9]{3}-s[0-9]{7})\.tar\.tmp\.$host\.[0-9]+\.[A-Za-z0-9]{6})\$")
[ -z "$stray" ]
ok $? "nothing but PATH.tmp.HOST.PID.XXXXXX left by killed runs: $(echo $stray)"
# However the kills fell, one temporary each of a process that is gone.
sh -c 'exit 0' & dead=$!; wait $dead
: > "out.tar.tmp.$host.$dead.Zq0x9a"
: > "s-e000-s0000001.tar.tmp.$host.$dead.abc123"
left=$(ls | grep -c '\.tmp\.')
xf-train -a cnn-s --steps 6 -s 2 --save-steps 1 --save-prefix s -o out.tar d.xfs
[ -z "$(ls | grep '\.tmp\.')" ]
ok $? "the next run onto the same outputs removes the $left temporaries: $(ls | grep '\.tmp\.' | head -3)"
rm -f s-*.tar
# Another live process's temporary is not touched.
sleep 30 & live=$!
: > "out.tar.tmp.$host.$live.abcdef"
xf-train -a cnn-s --steps 2 -s 1 -o out.tar d.xfs
[ -e "out.tar.tmp.$host.$live.abcdef" ]
ok $? "a running process's temporary stays"
kill $live; wait $live 2>/dev/null
rm -f ./*.tmp.*

# ---- -o onto an input: refused before anything is written, in every tool ----
# (tools/tool.c and lib/outfile.c: one place.)  Each row: the command, with
# IN standing for an input that must come out byte for byte the same.
xf-import synthetic --count 300 -s 1 -o in.xfs
xf-train -a mlp --steps 1 -o in.tar in.xfs
# IDX files for xf-import idx: two 28x28 images and their labels.
/usr/bin/python3 -c 'import struct
open("img.idx", "wb").write(struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(2 * 784))
open("lab.idx", "wb").write(struct.pack(">II", 0x801, 2) + bytes([3, 4]))'
sum_idx=$(md5sum < img.idx)
sum_xfs=$(md5sum < in.xfs) sum_tar=$(md5sum < in.tar)
while read -r cmd; do
	[ -z "$cmd" ] && continue
	sh -c "$cmd" > out 2> err < /dev/null
	rc=$?
	if [ "$rc" = 1 ] && one_line err && grep -q 'is also an input: refusing' err &&
	    [ "$(md5sum < in.xfs)" = "$sum_xfs" ] && [ "$(md5sum < in.tar)" = "$sum_tar" ] &&
	    [ "$(md5sum < img.idx)" = "$sum_idx" ] &&
	    [ -z "$(ls | grep '\.tmp\.')" ]; then
		pass "onto an input: $cmd: exit 1, inputs intact, no temporary: $(cat err)"
	else
		not_ok "onto an input: $cmd" "exit $rc; $(ls | grep '\.tmp\.')"
		xf-import synthetic --count 300 -s 1 -o in.xfs
		xf-train -a mlp --steps 1 -o in.tar in.xfs
	fi
done <<'CMDS'
xf-import idx img.idx lab.idx -o img.idx
xf-shuffle -b 4 -o in.xfs in.xfs
xf-shuffle -b 4 < in.xfs >> in.xfs
xf-cat -o in.xfs in.xfs
xf-cat --json -o in.xfs in.xfs
xf-cat --png 2x2 -o in.xfs in.xfs
xf-eval -m in.tar --examples in.xfs in.xfs
xf-eval -m in.tar --features fc1 -o in.xfs in.xfs
xf-eval -m in.tar -o in.xfs in.xfs
xf-eval -m in.tar -m in.tar --pairs in.tar in.xfs
xf-train -a mlp --steps 1 -o in.xfs in.xfs
xf-train -a mlp --steps 1 --log in.xfs -o x.tar in.xfs
xf-train --init in.tar --steps 1 -o in.tar in.xfs
xf-train --init in.tar --steps 1 --save-init in.tar -o x.tar in.xfs
xf-cka -a in.tar -o in.xfs in.xfs
xf-interp -n 2 -m in.tar -m in.tar -o in.tar in.xfs
xf-interp -n 2 -m in.tar -m in.tar --summary in.xfs in.xfs
xf-critic --alphas 2 --sigmas 2 -k 1 --init in.tar -m in.tar -o in.xfs in.xfs
CMDS
ln in.xfs hard.xfs
sh -c 'xf-shuffle -b 4 -o hard.xfs in.xfs' 2> err
rc=$?
[ "$rc" = 1 ] && [ "$(md5sum < in.xfs)" = "$sum_xfs" ]
ok $? "a hard link to the input is the same file: refused ($rc): $(cat err)"
rm -f hard.xfs

# ---- a failed run leaves the old output, in every tool ----
# The input fails at its last record, after the output has been written to.
head -c $(( $(wc -c < in.xfs) - 1 )) in.xfs > cut.xfs
echo old > old.out
sum_old=$(md5sum < old.out)
while read -r cmd; do
	[ -z "$cmd" ] && continue
	sh -c "$cmd" > out 2> err < /dev/null
	rc=$?
	if [ "$rc" = 1 ] && [ "$(md5sum < old.out)" = "$sum_old" ] &&
	    [ -z "$(ls | grep '\.tmp\.')" ]; then
		pass "failed run: $cmd: exit 1, old output intact, no temporary"
	else
		not_ok "failed run: $cmd" "exit $rc; $(ls | grep '\.tmp\.')"
		echo old > old.out
	fi
done <<'CMDS'
xf-shuffle -b 4 -o old.out cut.xfs
xf-cat -o old.out cut.xfs
xf-cat --json -o old.out cut.xfs
xf-eval -m in.tar --examples old.out cut.xfs
xf-eval -m in.tar --features fc1 -o old.out cut.xfs
xf-cka -a in.tar -o old.out cut.xfs
xf-interp -n 2 -m in.tar -m in.tar -o old.out cut.xfs
xf-critic --alphas 2 --sigmas 2 -k 1 --init in.tar -m in.tar -o old.out cut.xfs
xf-train -a mlp --steps 1 -o old.out cut.xfs
CMDS
# SIGTERM mid-write removes the temporary too.
xf-import synthetic --count 200000 -s 1 -o old.out &
pid=$!
# Once the output is being written: its temporary exists (or, in a tool
# that wrote in place, old.out has changed).
for i in $(seq 200); do
	ls | grep -q '\.tmp\.' || [ "$(md5sum < old.out)" != "$sum_old" ] && break
	sleep 0.05
done
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null
[ "$(md5sum < old.out)" = "$sum_old" ] && [ -z "$(ls | grep '\.tmp\.')" ]
ok $? "SIGTERM mid-write: old output intact, no temporary: $(ls | grep '\.tmp\.')"

# Full disk and file size limits: exit 1, one line, old checkpoint intact.
xf-train -a cnn-s --steps 2 -o /dev/full d.xfs 2> err
r=$?
ok $(( r == 1 ? 0 : 1 )) "checkpoint to /dev/full exits 1 ($r)"
one_line err && grep -q '/dev/full: .*No space left on device' err
ok $? "one line naming /dev/full and the error: $(cat err)"
[ -c /dev/full ]
ok $? "/dev/full is still a device"
cp old.tar lim.tar
( ulimit -f 64; xf-train -a cnn-s --steps 2 -s 2 -o lim.tar d.xfs ) 2> err
r=$?
ok $(( r == 1 ? 0 : 1 )) "checkpoint over ulimit -f exits 1 ($r)"
one_line err && grep -q 'lim.tar: .*File too large' err
ok $? "one line naming the file: $(cat err)"
[ "$(md5sum < lim.tar)" = "$old" ]
ok $? "the existing checkpoint is intact"
( ulimit -f 8; xf-import synthetic --count 200 -s 1 -o big.xfs ) 2> err
r=$?
ok $(( r == 1 ? 0 : 1 )) "stream over ulimit -f exits 1 ($r): $(cat err)"
xf-cat d.xfs > /dev/full 2> err
r=$?
ok $(( r == 1 ? 0 : 1 )) "xf-cat to /dev/full exits 1 ($r)"
xf-eval -m old.tar --examples /dev/full d.xfs > /dev/null 2> err
r=$?
ok $(( r == 1 ? 0 : 1 )) "xf-eval --examples to /dev/full exits 1 ($r): $(cat err)"

# A reader that goes away: every tool ends quietly with exit 0 (one
# mechanism, tools/tool.c), whether it writes a stream, a table, a PNG, a
# training log or a checkpoint.  The pipe's read end is closed before the
# tool starts, so its first write meets EPIPE however little it writes (a
# tool killed by SIGPIPE shows as exit 141 here).
closed_pipe() {
	/usr/bin/python3 -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)
rc = subprocess.run(sys.argv[1:], stdout=w, stderr=open("err", "w")).returncode
sys.exit(128 - rc if rc < 0 else rc)' "$@"
}
for cmd in "xf-import synthetic --count 5000 -s 1" "xf-shuffle -b 7 -s 1 d.xfs" \
    "xf-cat d.xfs" "xf-cat --png 4x4 d.xfs" \
    "xf-eval -m old.tar --features conv1 d.xfs" \
    "xf-eval -m old.tar --examples - d.xfs" \
    "xf-train -a cnn-s --steps 4 -s 1 --log - -o piped.tar d.xfs" \
    "xf-train -a cnn-s --steps 2 -s 1 -o - d.xfs" \
    "xf-cka -a old.tar -b new.tar d.xfs" \
    "xf-interp -n 5 -m old.tar -m new.tar d.xfs" \
    "xf-critic --alphas 2 --sigmas 2 -k 1 --init old.tar -m new.tar d.xfs"; do
	closed_pipe $cmd
	r=$?
	[ ! -s err ] && [ "$r" = 0 ]
	ok $? "closed pipe: $cmd ends quietly, exit $r"
done
[ -z "$(ls piped.tar* 2>/dev/null)" ]
ok $? "a training run whose log reader left writes no checkpoint, temporary or not: $(ls piped.tar* 2>/dev/null)"
# A reader that leaves mid-stream.
xf-import synthetic --count 5000 -s 1 2> err | head -c 100 > /dev/null
r=${PIPESTATUS[0]}
[ ! -s err ] && [ "$r" = 0 ]
ok $? "a reader leaving mid-stream: xf-import ends quietly, exit $r"
# A slow reader still gets every byte.
xf-shuffle -b 7 -s 1 d.xfs > direct.xfs
xf-shuffle -b 7 -s 1 d.xfs | (sleep 1; dd bs=64 status=none) > slow.xfs
same direct.xfs slow.xfs
ok $? "a slow reader gets every byte"

# Two writers of one path: one complete file wins, bytes never mixed.
mixed=0
for i in 1 2 3 4 5; do
	xf-train -a cnn-s --steps 2 -s 1 -o same.tar d.xfs &
	xf-train -a cnn-s --steps 6 -s 2 -o same.tar d.xfs &
	wait
	h=$(md5sum < same.tar)
	[ "$h" = "$old" ] || [ "$h" = "$new" ] || mixed=$((mixed + 1))
done
ok $mixed "concurrent writers: the file is always one of the two complete ones ($mixed of 5 not)"

# Resume equality for every preset (cnn-bn with momentum included).
xf-import synthetic --count 64 -s 3 -o r.xfs
for arch in mlp cnn-s cnn cnn-bn; do
	xf-train -a $arch --steps 6 -b 16 -s 4 -o straight.tar r.xfs &&
	xf-train -a $arch --steps 2 -b 16 -s 4 -o part.tar r.xfs &&
	xf-train --resume part.tar --steps 6 -o resumed.tar r.xfs &&
	cmp -s straight.tar resumed.tar
	ok $? "resume $arch: 2 steps + resume to 6 = 6 straight, byte for byte"
done

tap_done
