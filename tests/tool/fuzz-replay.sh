#!/bin/bash
# The fuzz corpus and every regression input, replayed through the fuzz
# targets' checks with the plain driver (tests/fuzz/replay.c) and the
# ordinary libxf: no fuzzer runtime, and under make SAN=1 with ASan and
# UBSan.  One test per input; a crash, an abort or a sanitizer report fails.
set -u
top=${XF_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
n=0

ok() {  # STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

for t in stream ckpt; do
	bin=$top/tests/fuzz/replay_$t.bin
	if [ ! -x "$bin" ]; then
		n=$((n + 1))
		echo "ok $n # skip $bin not built (make fuzz-replay)"
		continue
	fi
	for f in "$top"/tests/fuzz/corpus/$t/* "$top"/tests/fuzz/regress/$t/*; do
		[ -f "$f" ] || continue
		"$bin" "$f" >/dev/null 2>"${TMPDIR:-/tmp}/fuzz-replay.$$"
		rc=$?
		ok $rc "$t ${f#"$top"/tests/fuzz/}"
		[ $rc = 0 ] || sed 's/^/# /' "${TMPDIR:-/tmp}/fuzz-replay.$$" | head -20
	done
done
rm -f "${TMPDIR:-/tmp}/fuzz-replay.$$"
echo "1..$n"
