# tap.sh: sourced by the scripts in tests/tool and tests/pipeline.  It puts
# bin/ on PATH, makes a scratch directory ($tmp, removed on exit) and gives
# the TAP helpers; each script ends with tap_done.
set -u
top=${XF_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
PATH=$top/bin:$PATH
export PYTHONDONTWRITEBYTECODE=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xf-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0

# ok STATUS DESCRIPTION: a test that passed when STATUS is 0.
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
# pass DESCRIPTION; not_ok DESCRIPTION [NOTE...]: a result decided already;
# not_ok prints its notes and ./err as TAP comments.
pass() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); echo "not ok $n - $1"; shift
	for line in "$@"; do echo "#   $line"; done
	[ -s err ] && sed 's/^/#   stderr: /' err
	return 0
}
skip() { n=$((n + 1)); echo "ok $n # skip $1"; }
# check DESCRIPTION CMD...: CMD succeeds.
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then pass "$d"; else not_ok "$d" "failed: $*"; fi; }
# expect_err DESCRIPTION RC TEXT: after a command that left its exit code in
# $rc and stderr in ./err, the code is RC and stderr is one line holding
# TEXT (and, with QUIET_STDOUT=1, nothing went to ./out).
expect_err() {
	d=$1 want_rc=$2 want=$3
	lines=$(wc -l <err)
	if [ "$rc" != "$want_rc" ]; then not_ok "$d" "exit $rc, want $want_rc"
	elif [ "${QUIET_STDOUT:-0}" = 1 ] && [ -s out ]; then not_ok "$d" "output on stdout"
	elif [ "$lines" != 1 ]; then not_ok "$d" "$lines lines on stderr, want 1"
	elif ! grep -qF -e "$want" err; then not_ok "$d" "stderr lacks '$want'"
	else pass "$d"; fi
}
# err_table LABEL [BEFORE [AFTER]]: rows "RC|TEXT|ARGS" on stdin; each
# runs the script's run() with BEFORE ARGS AFTER (split as the shell splits
# words) and must exit RC with one line on stderr holding TEXT.
err_table() {
	local label=$1 before=${2:-} after=${3:-} rc_want text args
	while IFS='|' read -r rc_want text args; do
		eval "set -- $before $args $after"
		run "$@"
		expect_err "$label: $args" "$rc_want" "$text"
	done
}
# usage_cases TOOL AFTER ARGS...: run() with each ARGS and then AFTER exits
# 2 and prints TOOL's usage message.
usage_cases() {
	local tool=$1 after=$2 args
	shift 2
	for args in "$@"; do
		eval "set -- $args $after"
		run "$@"
		if [ "$rc" = 2 ] && grep -q "^usage: $tool " err; then
			pass "usage: '$args': exit 2 and the usage"
		else
			not_ok "usage: '$args': exit 2 and the usage" "exit $rc"
		fi
	done
}
# same A B, differ A B: files A and B both exist, are not empty, and are
# equal (differ) byte for byte; eq A B, ne A B: the same for two strings,
# neither blank.  A missing or empty output never passes a comparison.
same() { [ -s "$1" ] && [ -s "$2" ] && cmp -s "$1" "$2"; }
differ() { [ -s "$1" ] && [ -s "$2" ] && ! cmp -s "$1" "$2"; }
blank() { case $1 in *[![:space:]]*) return 1 ;; esac; }
eq() { ! blank "$1" && [ "$1" = "$2" ]; }
ne() { ! blank "$1" && ! blank "$2" && [ "$1" != "$2" ]; }
# rows FILE: FILE is a table with a header and at least one record (for the
# awk checks, which pass vacuously on no records).
rows() { [ "$(wc -l <"$1")" -gt 1 ]; }
# field NAME: column NAME of the TSV on stdin, one value a line.
field() { awk -F'\t' -v f="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == f) c = i; next } { print $c }'; }
# table_run RC WANT CMD: one row of a tool's table of calls.  CMD runs under
# sh in the current directory; it must exit RC, and WANT says what else:
# "err" (nothing on stdout, one "xf-...: " line on stderr), "fail" (one such
# line, whatever came out before the failure), "usage" (nothing on stdout, a
# usage message on stderr), "-" (the exit code only), "=TEXT" (stdout is the
# printf of TEXT) or the md5 of stdout (and nothing on stderr).
table_run() {
	local rc=$1 want=$2 cmd=$3 got sum status=1

	sh -c "$cmd" >out 2>err </dev/null
	got=$?
	sum=$(md5sum <out | cut -c1-32)
	case $want in
	err)	[ "$got" = "$rc" ] && [ ! -s out ] && [ "$(wc -l <err)" = 1 ] &&
		    grep -q '^xf-[a-z]*: ' err && status=0 ;;
	fail)	[ "$got" = "$rc" ] && [ "$(wc -l <err)" = 1 ] &&
		    grep -q '^xf-[a-z]*: ' err && status=0 ;;
	usage)	[ "$got" = "$rc" ] && [ ! -s out ] && grep -q '^usage: ' err &&
		    status=0 ;;
	-)	[ "$got" = "$rc" ] && status=0 ;;
	=*)	[ "$got" = "$rc" ] && printf "${want#=}" | cmp -s - out &&
		    [ ! -s err ] && status=0 ;;
	*)	[ "$got" = "$rc" ] && [ "$sum" = "$want" ] && [ ! -s err ] &&
		    status=0 ;;
	esac
	ok $status "exit $rc: $cmd"
	[ $status = 0 ] || { echo "# got exit $got, stdout md5 $sum:";
	    head -c 300 out | sed 's/^/#   /'; echo; echo "# stderr:";
	    sed 's/^/#   /' err; }
}

tap_done() { echo "1..$n"; }
# free_port: a TCP port on 127.0.0.1 that nothing listens on just now (for
# the servers the fan-out tests start).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
