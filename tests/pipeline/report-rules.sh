#!/bin/bash
# The report's statistics and verdict rules (TAP): pipelines/stats.py
# against scipy, and every rule of pipelines/report.py on synthetic tables
# that must give HOLDS, CONTRADICTED and INCONCLUSIVE (test_report.py here).
# Needs Debian's /usr/bin/python3 with numpy and scipy; seconds.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3

if ! "$py" -c 'import numpy, scipy.stats' 2>/dev/null; then
	skip "no $py with numpy and scipy"
	tap_done
	exit 0
fi
"$py" -B "$top/tests/pipeline/test_report.py" "$top/pipelines" "$tmp" \
    >"$tmp/results" 2>"$tmp/err"
rc=$?
while IFS='	' read -r status text; do
	ok "$status" "$text"
done <"$tmp/results"
# A Python error part-way is a failure, with its traceback.
if [ "$rc" = 0 ] && [ "$n" -gt 80 ]; then
	pass "test_report.py ran to the end ($n tests)"
else
	not_ok "test_report.py ran to the end (exit $rc, $n tests)" \
	    "$(tail -3 "$tmp/err" | tr '\n' ' ')"
fi
tap_done
