#!/bin/bash
# A sweep's progress and record (pipelines/sweep): a line per finished run,
# here and in OUT/logs/NAME.log, with the accuracy its eval stream holds;
# parallel's joblog beside it; --bar on a terminal; a failing run stops the
# sweep with its name and the last lines of its stderr; a sweep killed
# halfway is finished by the next make, which redoes only the runs that had
# not finished, to the same bytes as a sweep that was not broken.
. "$(dirname "$0")/../tap.sh"

# The sweep of one study: two seeds, on config.mk's pair (no regime study).
run() { make -C "$top/pipelines" --no-print-directory CONFIG=test.mk \
    OUT="$tmp/$1" JOBS=1 THREADS=1 EPOCHS=2 USE_REGIME=0 NSEEDS=2 "${@:2}"; }

# The unbroken sweep and the broken one both write to $tmp/out (runs keep
# their paths), one after the other.
run out shuffle > "$tmp/whole.log" 2>&1
ok $? "an unbroken sweep"
mv "$tmp/out" "$tmp/whole"
pat='^shuffle [1-8]/8 b[0-9]*-[a-z]*-s[0-9] acc [0-9.]*% [0-9]* s$'
[ "$(grep -c "$pat" "$tmp/whole.log")" = 8 ] &&
    [ "$(grep "$pat" "$tmp/whole.log" | cut -d' ' -f2)" = "$(printf '%s/8\n' 1 2 3 4 5 6 7 8)" ]
ok $? "a line per finished run, 1/8 to 8/8: $(grep -m1 "$pat" "$tmp/whole.log")"
grep "$pat" "$tmp/whole.log" | cmp -s - "$tmp/whole/logs/shuffle.log"
ok $? "the same lines in logs/shuffle.log"
# The accuracy each line gives: correct/n of the run's eval stream.
bad=0
while read -r _ _ name _ acc _; do
	want=$(xf-cat "$tmp/whole/runs/shuffle/$name.eval.xfs" |
	    awk -F'\t' 'NR == 2 { printf "%.1f%%", 100 * $3 / $2 }')
	[ "$acc" = "$want" ] || bad=$((bad + 1))
done < "$tmp/whole/logs/shuffle.log"
ok $bad "each line's accuracy is correct/n of its eval stream ($bad not)"
j=$tmp/whole/logs/shuffle.joblog
[ "$(head -1 "$j" | cut -f1,2,4,7)" = "$(printf 'Seq\tHost\tJobRuntime\tExitval')" ] &&
    [ "$(awk -F'\t' 'NR > 1 && $7 == 0 && $9 ~ /^.\/train-run /' "$j" | wc -l)" = 8 ]
ok $? "logs/shuffle.joblog: parallel's joblog of the 8 runs"

# On a terminal: parallel's --bar, to 100%.
script -qec "make -C '$top/pipelines' --no-print-directory CONFIG=test.mk OUT='$tmp/tty' JOBS=1 THREADS=1 SEEDS=1 USE_REGIME=0 shuffle" \
    /dev/null > "$tmp/tty.log" 2>&1 </dev/null
grep -q 'parallel: 4 runs of shuffle' "$tmp/tty.log" && grep -aq '100% 4:0=' "$tmp/tty.log"
ok $? "on a terminal the sweep shows parallel's --bar ($(grep -ao '[0-9]*% [0-9]*:[0-9]*=[0-9]*s' "$tmp/tty.log" | tail -1))"

# A run that fails stops the sweep: its name, its stderr's last lines.
run fail shuffle SEEDS="1 x" > "$tmp/fail.log" 2>"$tmp/fail.err"
rc=$?
[ $rc != 0 ] && [ "$(grep -c '^sweep shuffle: ' "$tmp/fail.err")" = 1 ] &&
    grep -q '^sweep shuffle: run b28-pt-sx failed (exit [0-9]* on .*): xf-train: -s x: want an integer' "$tmp/fail.err" &&
    grep -q '^  b28-pt-sx | xf-train: -s x: ' "$tmp/fail.err"
ok $? "a failing run stops the sweep: $(grep '^sweep' "$tmp/fail.err")"
[ "$(awk -F'\t' 'NR > 1' "$tmp/fail/logs/shuffle.joblog" | wc -l)" = 2 ] &&
    [ "$(grep -c "$pat" "$tmp/fail.log")" = 1 ] && grep -q '^shuffle 1/8 b28-pt-s1 ' "$tmp/fail.log"
ok $? "after 1 run and the failed one, no more start"

# Killed halfway: at least 2 of 8 runs finished.  The next make redoes the
# rest, and only those.
setsid make -C "$top/pipelines" --no-print-directory CONFIG=test.mk \
    OUT="$tmp/out" JOBS=1 THREADS=1 EPOCHS=2 USE_REGIME=0 NSEEDS=2 shuffle > "$tmp/broken.log" 2>&1 &
pgid=$!
for i in $(seq 600); do
	[ "$(ls "$tmp"/out/runs/shuffle/*.eval.xfs 2>/dev/null | wc -l)" -ge 2 ] && break
	kill -0 $pgid 2>/dev/null || break
	sleep 0.1
done
kill -TERM -- -$pgid 2>/dev/null
wait $pgid
done_before=$(ls "$tmp"/out/runs/shuffle/*.eval.xfs 2>/dev/null | wc -l)
[ "$done_before" -ge 2 ] && [ "$done_before" -lt 8 ]
ok $? "the sweep was killed with $done_before of 8 runs finished"
run out shuffle > "$tmp/resumed.log" 2>&1
ok $? "make again finishes it"
grep -q "parallel: $((8 - done_before)) runs of shuffle" "$tmp/resumed.log" &&
    [ "$(grep -c "^shuffle [1-8]/$((8 - done_before)) " "$tmp/resumed.log")" = $((8 - done_before)) ]
ok $? "it redid the $((8 - done_before)) runs that had not finished: $(grep '^parallel' "$tmp/resumed.log")"
diff -r -x logs "$tmp/whole" "$tmp/out" > "$tmp/diffs"
ok $? "the same bytes as the unbroken sweep ($(find "$tmp/out" -type f | wc -l) files) $(head -3 "$tmp/diffs" | tr '\n' ' ')"
tap_done
