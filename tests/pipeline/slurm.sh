#!/bin/bash
# LAUNCHER=slurm against a real one-node Slurm (Debian's slurm-wlm and
# munge) started here: munged with its own key and socket, slurmctld and
# slurmd with a slurm.conf made in the scratch folder (this node with its
# real CPU count, select/cons_tres, free ports on 127.0.0.1, state and spool
# in the scratch folder), all stopped on exit.  The tiny shuffle sweep runs
# as job steps, through pipelines/slurm/sweep.sbatch under sbatch and again
# under salloc, and gives the same bytes as the sweep run here.  Needs root
# (slurmd starts job steps as their user).
. "$(dirname "$0")/../tap.sh"

S=$tmp/slurm
mkdir -p "$S/state" "$S/spool"
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done
      for p in "${pids[@]}"; do wait $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
slurm_fail() {
	not_ok "a one-node Slurm starts" "$@"
	for l in munged.log slurmctld.log slurmd.log; do
		[ -s "$S/$l" ] && tail -n 3 "$S/$l" | sed "s/^/#   $l: /"
	done
	tap_done
	exit 1
}
[ "$(id -u)" = 0 ] || slurm_fail "needs root: slurmd starts job steps as their user"
for t in munged slurmctld slurmd sbatch salloc srun sinfo; do
	command -v $t >/dev/null ||
	    slurm_fail "$t is missing (make deps installs slurm-wlm and munge)"
done

dd if=/dev/urandom of="$S/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$S/munge.key"
munged --force --socket="$S/munge.sock" --key-file="$S/munge.key" \
    --pid-file="$S/munged.pid" --log-file="$S/munged.log" \
    --seed-file="$S/munge.seed" || slurm_fail "munged does not start"
pids+=("$(cat "$S/munged.pid")")
ctld=$(free_port) slurmd_port=$(free_port) h=$(hostname -s)
node=$(slurmd -C | head -n 1)
cat > "$S/slurm.conf" <<EOC
ClusterName=xftest
SlurmctldHost=$h(127.0.0.1)
SlurmctldPort=$ctld
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge.sock
CredType=cred/munge
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=xf Nodes=$h Default=YES MaxTime=INFINITE State=UP
EOC
export SLURM_CONF=$S/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" > "$S/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$h" > "$S/slurmd.out" 2>&1 &
pids+=($!)
up=
for i in $(seq 40); do
	for p in "${pids[@]:1}"; do kill -0 $p 2>/dev/null || slurm_fail "a daemon exited"; done
	sinfo -h -o %T 2>/dev/null | grep -qx idle && { up=1; break; }
	sleep 0.5
done
[ -n "$up" ] || slurm_fail "the node is not idle after 20 s: $(sinfo -h -o %T 2>&1 | head -1)"
cpus=$(sed 's/.*CPUs=\([0-9]*\).*/\1/' <<<"$node")
pass "a one-node Slurm on 127.0.0.1 ports $ctld and $slurmd_port: $h with $cpus CPUs"

for d in here there; do
	mkdir -p "$tmp/$d"
	# The whole pipeline folder but its outputs: every file the Makefile
	# includes or runs comes along.
	tar -C "$top/pipelines" --exclude=./out --exclude=__pycache__ -cf - . |
	    tar -C "$tmp/$d" -xf -
done
# The fan-out of one sweep: two seeds, on config.mk's pair (no regime study).
args="CONFIG=test.mk TOP=$top OUT=out USE_REGIME=0 NSEEDS=2"
make -C "$tmp/here" --no-print-directory $args JOBS=1 THREADS=1 shuffle > "$tmp/here.log" 2>&1
ok $? "the sweep here"

make -C "$tmp/there" --no-print-directory $args LAUNCHER=slurm shuffle > "$tmp/out.log" 2>"$tmp/err"
rc=$?
[ $rc != 0 ] && [ "$(grep -c '^sweep shuffle: ' "$tmp/err")" = 1 ] &&
    grep -q 'LAUNCHER=slurm runs inside a Slurm allocation' "$tmp/err"
ok $? "outside an allocation LAUNCHER=slurm stops with one line: $(grep '^sweep' "$tmp/err")"

XF_PIPELINES=. MAKE_ARGS="$args" TARGETS=shuffle timeout 300 sbatch --wait \
    -n "$cpus" -c 1 -o "$tmp/sbatch.log" -D "$tmp/there" \
    "$top/pipelines/slurm/sweep.sbatch" > "$tmp/sbatch.out" 2>&1
ok $? "sbatch --wait pipelines/slurm/sweep.sbatch: $(tail -1 "$tmp/sbatch.out") (log: $(tail -2 "$tmp/sbatch.log" | tr '\n' ' '))"
grep -q 'parallel: 8 runs of shuffle' "$tmp/sbatch.log" &&
    [ "$(grep -c '^shuffle [1-8]/8 b[0-9]*-[a-z]*-s[0-9] acc [0-9.]*% [0-9]* s$' "$tmp/sbatch.log")" = 8 ]
ok $? "8 runs, each reported as it finished"
j=$tmp/there/out/logs/shuffle.joblog
[ "$(awk -F'\t' 'NR > 1 && $7 == 0' "$j" | cut -f9 |
    grep -c '^srun --export=all --exclusive -N1 -n1 -c 1 ./train-run ')" = 8 ]
ok $? "each run was a job step: srun --exclusive -N1 -n1 -c 1 (joblog)"
diff -r -x logs "$tmp/here/out" "$tmp/there/out" > "$tmp/diffs"
ok $? "every file the same bytes as the sweep run here ($(find "$tmp/there/out" -type f | wc -l) files) $(head -3 "$tmp/diffs" | tr '\n' ' ')"

touch "$tmp/there/out/data/far/tgt-train-b7.xfs"
timeout 300 salloc -n 2 -c 1 make -C "$tmp/there" --no-print-directory $args \
    LAUNCHER=slurm shuffle > "$tmp/salloc.log" 2>&1
ok $? "salloc -n 2 -c 1 make LAUNCHER=slurm shuffle (log: $(tail -2 "$tmp/salloc.log" | tr '\n' ' '))"
grep -q 'parallel: 4 runs of shuffle' "$tmp/salloc.log" &&
    [ "$(awk -F'\t' 'NR > 1 && $7 == 0' "$j" | wc -l)" = 4 ]
ok $? "it redid the 4 runs at b = 7, as job steps"
diff -r -x logs "$tmp/here/out" "$tmp/there/out" > "$tmp/diffs"
ok $? "and every file is the same bytes as here again $(head -3 "$tmp/diffs" | tr '\n' ' ')"
tap_done
