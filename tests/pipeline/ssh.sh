#!/bin/bash
# Fan-out over ssh, against a real sshd (Debian's openssh-server) on
# 127.0.0.1 at a free port, with its own host key, config and users' keys in
# the scratch folder; key auth only.  Two logins, each landing in a folder
# of its own with xf on its PATH, stand for two machines.  The tiny shuffle
# sweep run over them comes back whole and byte-identical to the same sweep
# run here, and leaves nothing behind on the "remote" side.  A remote
# without xf on PATH, a host that cannot be reached and a run whose returned
# file is missing each stop the sweep with one line and change nothing here.
. "$(dirname "$0")/../tap.sh"

sshd_fail() {
	not_ok "sshd starts on 127.0.0.1:$port" "$@"
	sed 's/^/#   sshd: /' "$tmp/ssh/sshd.log" 2>/dev/null | tail -n 5
	tap_done
	exit 1
}

sshd_start() {
	local i user=$(id -un)
	mkdir -p "$tmp/ssh" && chmod 700 "$tmp/ssh"
	port=$(free_port) || sshd_fail "no free port"
	command -v rsync >/dev/null ||
	    sshd_fail "rsync is missing (parallel's transfers; make deps installs it)"
	command -v /usr/sbin/sshd >/dev/null ||
	    sshd_fail "/usr/sbin/sshd is missing (make deps installs openssh-server)"
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/ssh/host" ||
	    sshd_fail "ssh-keygen cannot make a host key"
	# Privilege separation: sshd run by root wants its empty directory.
	if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p -m 755 /run/sshd || sshd_fail "cannot make /run/sshd"
	fi
	: > "$tmp/ssh/authorized_keys"
	cat > "$tmp/ssh/sshd_config" <<-EOF
	ListenAddress 127.0.0.1
	Port $port
	HostKey $tmp/ssh/host
	PidFile $tmp/ssh/sshd.pid
	AuthorizedKeysFile $tmp/ssh/authorized_keys
	AllowUsers $user
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PermitRootLogin prohibit-password
	UsePAM no
	StrictModes no
	PermitUserEnvironment no
	AllowTcpForwarding no
	X11Forwarding no
	PrintMotd no
	LogLevel ERROR
	EOF
	/usr/sbin/sshd -t -f "$tmp/ssh/sshd_config" > "$tmp/ssh/sshd.log" 2>&1 ||
	    sshd_fail "sshd -t rejects the config"
	/usr/sbin/sshd -D -e -f "$tmp/ssh/sshd_config" >> "$tmp/ssh/sshd.log" 2>&1 &
	sshd_pid=$!
	trap 'kill $sshd_pid 2>/dev/null; wait $sshd_pid 2>/dev/null; rm -rf "$tmp"' EXIT
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/ssh/host.pub")" > "$tmp/ssh/known_hosts"
	# Up when it accepts a connection on the port (at most 10 s).
	for i in $(seq 50); do
		kill -0 $sshd_pid 2>/dev/null || sshd_fail "sshd exited"
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null &&
		    return 0
		sleep 0.2
	done
	sshd_fail "sshd does not accept connections after 10 s"
}

# login NAME DIR [PATH] [AFTER]: a key NAME whose logins run in DIR with HOME
# DIR and PATH (default: bin/ first, as if xf were installed); AFTER is a
# shell command run in DIR after each command.  Prints the ssh command
# line, for an sshlogin file.
login() {
	local key=$tmp/ssh/$1 dir=$2 path=${3:-$top/bin:/usr/bin:/bin} after=${4:-}
	mkdir -p "$dir"
	ssh-keygen -q -t ed25519 -N '' -f "$key"
	cat > "$key.sh" <<-EOF
	#!/bin/sh
	cd "$dir" || exit 1
	export HOME="$dir" PATH="$path"
	/bin/sh -c "\$SSH_ORIGINAL_COMMAND"
	rc=\$?
	$after
	exit \$rc
	EOF
	chmod +x "$key.sh"
	echo "command=\"$key.sh\",no-pty,no-agent-forwarding,no-port-forwarding $(cut -d' ' -f1,2 "$key.pub")" \
	    >> "$tmp/ssh/authorized_keys"
	echo "ssh -F /dev/null -p $port -i $key -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$tmp/ssh/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=5 $(id -un)@127.0.0.1"
}

# Two copies of the pipeline, so that OUT is the same relative "out" in
# both (runs record their paths) and the ssh runs land in the logins'
# folders, not here.
for d in here there; do
	mkdir -p "$tmp/$d"
	# The whole pipeline folder but its outputs: every file the Makefile
	# includes or runs comes along.
	tar -C "$top/pipelines" --exclude=./out --exclude=__pycache__ -cf - . |
	    tar -C "$tmp/$d" -xf -
done
# The fan-out of one sweep: two seeds, on config.mk's pair (no regime study).
run() { d=$1; shift; make -C "$tmp/$d" --no-print-directory CONFIG=test.mk \
    TOP="$top" OUT=out JOBS=1 THREADS=1 USE_REGIME=0 NSEEDS=2 "$@"; }

sshd_start
pass "sshd listens on 127.0.0.1:$port (pid $sshd_pid)"
printf '2/%s\n' "$(login a "$tmp/r1")" "$(login b "$tmp/r2")" > "$tmp/two"
printf '1/%s\n' "$(login nopath "$tmp/r3" /usr/bin:/bin)" > "$tmp/nopath"
printf '1/%s\n' "$(login lost "$tmp/r4" '' 'rm -f out/runs/shuffle/*.ret.tar')" > "$tmp/lost"
dead=$(free_port)
sed "s/-p $port /-p $dead /" "$tmp/nopath" > "$tmp/dead"

run here shuffle > "$tmp/here.log" 2>&1
ok $? "the sweep here (log: $(tail -2 "$tmp/here.log" | tr '\n' ' '))"
run there shuffle JOBS=2 SSHLOGINFILE="$tmp/two" > "$tmp/there.log" 2>&1
ok $? "the sweep over two ssh logins (log: $(tail -2 "$tmp/there.log" | tr '\n' ' '))"
grep -q 'parallel: 8 runs of shuffle' "$tmp/there.log" &&
    [ "$(grep -c '^shuffle [1-8]/8 b[0-9]*-[a-z]*-s[0-9] acc [0-9.]*% [0-9]* s$' "$tmp/there.log")" = 8 ]
ok $? "8 runs, each reported when it came back"
j=$tmp/there/out/logs/shuffle.joblog
[ "$(awk -F'\t' 'NR > 1 && $7 == 0' "$j" | grep -c " -i $tmp/ssh/a ")" -gt 0 ] &&
    [ "$(awk -F'\t' 'NR > 1 && $7 == 0' "$j" | grep -c " -i $tmp/ssh/b ")" -gt 0 ]
ok $? "both logins ran runs (joblog: $(cut -f2 "$j" | grep -o ' -i [^ ]*' | sort | uniq -c | tr '\n' ' '))"
miss=0
for r in b28 b7; do for k in pt rit; do for s in 1 2; do
	for x in tar init.tar log.xfs ex.xfs eval.xfs; do
		[ -s "$tmp/there/out/runs/shuffle/$r-$k-s$s.$x" ] || miss=$((miss + 1))
	done
done; done; done
ok $miss "every run's five outputs came back ($miss missing)"
diff -r -x logs "$tmp/here/out" "$tmp/there/out" > "$tmp/diffs"
ok $? "every file the same bytes as the sweep run here ($(find "$tmp/there/out" -type f | wc -l) files) $(head -3 "$tmp/diffs" | tr '\n' ' ')"
left=$(find "$tmp/r1" "$tmp/r2" -type f | head -5)
[ -z "$left" ]
ok $? "--cleanup left no files in the logins' folders $left"

# Each failure: the b = 7 runs are out of date; the sweep stops with one
# line and every other file here keeps its bytes.
snap() { (cd "$tmp/there/out" && find . -path ./logs -prune -o -type f -print |
    grep -v '/b7-.*\.eval\.xfs$\|\.queue$' | sort | xargs md5sum); }
fails() { # LOGINS WHAT TEXT
	touch "$tmp/there/out/data/far/tgt-train-b7.xfs"
	snap > "$tmp/before"
	run there shuffle SSHLOGINFILE="$1" > "$tmp/fail.log" 2>"$tmp/fail.err"
	rc=$?
	snap > "$tmp/after"
	lines=$(grep -c '^sweep shuffle: ' "$tmp/fail.err")
	left=$(find "$tmp"/r[1-4] -type f | head -3)
	if [ $rc = 0 ] || [ "$lines" != 1 ] ||
	    ! grep -q "^sweep shuffle: run b7-[a-z]*-s[12] .*$3" "$tmp/fail.err"; then
		not_ok "$2: the sweep fails with one line" "exit $rc, $lines sweep lines" \
		    "$(grep -v '^ ' "$tmp/fail.err" | tail -3 | tr '\n' ' ')"
	else
		pass "$2: $(grep '^sweep shuffle: ' "$tmp/fail.err" | sed "s|$tmp/ssh/||g")"
	fi
	diff "$tmp/before" "$tmp/after" > "$tmp/diffs"
	ok $? "$2: the files here are as they were $(head -3 "$tmp/diffs" | tr '\n' ' ')"
	[ -z "$left" ]
	ok $? "$2: nothing left in the logins' folders $left"
}
fails "$tmp/nopath" "a remote without xf on PATH" 'failed (exit 127 on .*): train-run: xf-train is not on PATH'
fails "$tmp/lost" "a returned file that is missing" 'finished but its returned file out/runs/shuffle/b7-.*\.ret\.tar is missing'
fails "$tmp/dead" "a host that cannot be reached" "failed (exit 255 on .*): ssh: connect to host 127.0.0.1 port $dead"

run there shuffle JOBS=2 SSHLOGINFILE="$tmp/two" > "$tmp/again.log" 2>&1
ok $? "the sweep over the good logins again"
grep -q 'parallel: 4 runs of shuffle' "$tmp/again.log"
ok $? "it redid the 4 runs at b = 7: $(grep '^parallel' "$tmp/again.log")"
diff -r -x logs "$tmp/here/out" "$tmp/there/out" > "$tmp/diffs"
ok $? "and every file is the same bytes as here again $(head -3 "$tmp/diffs" | tr '\n' ' ')"
left=$(find "$tmp"/r[1-4] -type f | head -5)
[ -z "$left" ]
ok $? "no files left in any login's folder $left"
tap_done
