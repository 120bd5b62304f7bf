#!/bin/sh
# The mechanism of `make bench`'s nn part (TAP), in its quick mode: the
# table of tests/bench/nn.py has its header, one row per preset with every
# column filled (PyTorch's with "-" under -x), each ratio's median inside
# its range, and the ceiling line counts one measure per pair.  No timing
# is judged: the numbers of a quick run mean nothing.
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
bn=$top/tests/bench/bench_nn
py=/usr/bin/python3

# shape FILE ROWS FIELDS: the table in FILE has ROWS preset rows of FIELDS
# fields, numbers where not "-", medians inside [min-max].
shape() {
	awk -v rows="$2" -v nf="$3" '
	NR == 2 && $1 != "preset@input" { bad = "no header" }
	NR > 2 && $1 ~ /@[0-9]+x[0-9]+x[0-9]+$/ {
		r++
		if (NF != nf) bad = "row " r ": " NF " fields, want " nf
		for (i = 2; i <= NF; i++) {
			if ($i == "-") continue
			if ($i ~ /^\[/) {
				split(substr($i, 2, length($i) - 2), m, "-")
				if (!(m[1] + 0 <= $(i - 1) + 0 && $(i - 1) + 0 <= m[2] + 0))
					bad = "row " r ": median " $(i - 1) " outside " $i
			} else if ($i !~ /^[0-9.]+$/ || $i + 0 <= 0)
				bad = "row " r ": field " i " is " $i
		}
	}
	/^sgemm 2048\^3 ceiling/ && $0 ~ " over " 2 * rows " measures" { c = 1 }
	END {
		if (r != rows) bad = r " rows, want " rows
		else if (!c) bad = "no ceiling line over " 2 * rows " measures"
		if (bad != "") { print bad; exit 1 }
	}' "$1"
}

if ! [ -x "$bn" ]; then
	skip "tests/bench/bench_nn not built (make check builds it)"
	tap_done
	exit 0
fi

"$bn" -s 0.01 -i 1x8x8 c4,p,f >out 2>err
ok $? "bench_nn: one model, one line"
awk -F '\t' 'NF != 8 || $1 != "xf" || $3 != "1x8x8" || !($4 > 0) || !($6 > 0) { exit 1 }' out
ok $? "bench_nn: its line has 8 fields: xf, spec, shape, rates, RSS, GFLOP/s"
"$bn" -i 28x28 mlp >out 2>err; rc=$?
expect_err "bench_nn -i 28x28: usage" 2 "want CxHxW"
"$bn" -s 0.01 nosuch >out 2>err; rc=$?
expect_err "bench_nn: a bad spec named" 1 "nosuch"

BENCH_QUICK=1 "$py" "$top/tests/bench/nn.py" -x mlp c4,p,f@3x8x8 >out 2>err
ok $? "nn.py -x: xf only, quick"
if m=$(shape out 2 10); then pass "nn.py -x: table shape"
else not_ok "nn.py -x: table shape" "$m"; sed 's/^/#   /' out; fi

# PyTorch's side on one small residual net: each of its processes imports
# torch, seconds on a loaded machine.
if "$py" -c 'import importlib.util as u; exit(u.find_spec("torch") is None)'; then
	BENCH_QUICK=1 "$py" "$top/tests/bench/nn.py" c4n,b,r4,r8s2,g,f@3x8x8 >out 2>err
	ok $? "nn.py, quick: xf and PyTorch alternating"
	if m=$(shape out 1 12); then pass "nn.py: table shape, PyTorch's columns"
	else not_ok "nn.py: table shape, PyTorch's columns" "$m"; sed 's/^/#   /' out; fi
else
	skip "python3-torch not installed"
	skip "python3-torch not installed"
fi
tap_done
