#!/bin/bash
# The fuzz corpus and every regression input, replayed through the fuzz
# targets' checks with the plain driver (tests/fuzz/replay.c) and the
# ordinary libxf: no fuzzer runtime, and under make SAN=1 with ASan and
# UBSan.  One test per input; a crash, an abort or a sanitizer report fails.
. "$(dirname "$0")/../tap.sh"

for t in stream ckpt npy image; do
	bin=$top/tests/fuzz/replay_$t.bin
	if [ ! -x "$bin" ]; then
		skip "$bin not built (make fuzz-replay)"
		continue
	fi
	for f in "$top"/tests/fuzz/corpus/$t/* "$top"/tests/fuzz/regress/$t/*; do
		[ -f "$f" ] || continue
		"$bin" "$f" >/dev/null 2>"$tmp/err"
		rc=$?
		ok $rc "$t ${f#"$top"/tests/fuzz/}"
		[ $rc = 0 ] || sed 's/^/# /' "$tmp/err" | head -20
	done
done
rm -f "$tmp/err"
tap_done
