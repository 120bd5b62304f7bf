#!/bin/bash
# The whole experiment chain on tiny synthetic data (pipelines/test.mk),
# through GNU parallel with -S : (the multi-machine code path, run locally):
# every artefact and every report row is produced; a second run does
# nothing; a run from scratch gives the same bytes; a changed input rebuilds
# only what depends on it.
. "$(dirname "$0")/../tap.sh"

echo : > "$tmp/sshlogins"
run() { make -C "$top/pipelines" --no-print-directory CONFIG=test.mk \
    OUT="$tmp/out" SSHLOGINFILE="$tmp/sshlogins" "$@"; }

run paper > "$tmp/log" 2>&1
ok $? "make paper on synthetic data (log: $(tail -3 "$tmp/log" | tr '\n' ' '))"
for f in REPORT.md report.html analysis/provenance.txt \
    analysis/{shuffle,curves,mistakes,mistakes-ex,cka,basins,distance,criticality,checkpoints,yosinski,landscape}.tsv \
    fig/{shuffle-acc,curves,cka,interp,critic-pt,critic-rit,checkpoints,yosinski,landscape}.png; do
	[ -s "$tmp/out/$f" ]
	ok $? "artefact $f"
done
rows=$(grep -c -E '^\| [a-z]+ \| .* \| (HOLDS|CONTRADICTED|INCONCLUSIVE|NOT RUN) \|$' "$tmp/out/REPORT.md")
ok $(( rows == 22 ? 0 : 1 )) "report has 22 findings rows ($rows)"
[ -s "$tmp/out/REPORT.md" ] && ! grep -q 'NOT RUN' "$tmp/out/REPORT.md"
ok $? "every report row was computed"
counts=$(grep -o -E '^\*\*[0-9]+ hold, [0-9]+ are contradicted, [0-9]+ are inconclusive\.' "$tmp/out/REPORT.md")
sum=$(echo "$counts" | grep -o -E '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
ok $(( sum == 22 ? 0 : 1 )) "the report opens with counts by verdict that add to 22: $counts"
grep -q 'parallel: 8 runs of shuffle' "$tmp/log"
ok $? "the shuffle sweep went through GNU parallel (8 runs)"
notpng=0
for png in "$tmp"/out/fig/*.png; do
	[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] ||
	    notpng=$((notpng + 1))
done
ok $notpng "figures are PNG files ($notpng not)"

run -n paper > "$tmp/again" 2>&1
grep -q "Nothing to be done for 'paper'" "$tmp/again" && [ "$(wc -l < "$tmp/again")" -eq 1 ]
ok $? "a second make has nothing to do: $(head -2 "$tmp/again" | tr '\n' ' ')"

# From scratch again: every artefact (streams, checkpoints, tables, figures,
# report) comes out the same, byte for byte.
mv "$tmp/out" "$tmp/first"
run paper > "$tmp/log-again" 2>&1
diff -rq -x logs "$tmp/first" "$tmp/out" > "$tmp/diffs"
ok $? "re-run from scratch: the same bytes in all $(find "$tmp/out" -type f | wc -l) files $(head -3 "$tmp/diffs" | tr '\n' ' ')"

touch "$tmp/out/data/tgt-train-b7.xfs"
run -n paper > "$tmp/dry" 2>&1
grep -q 'runs/shuffle/b7-pt-s1 ' "$tmp/dry" && grep -q 'shuffle.tsv' "$tmp/dry"
ok $? "a changed b=7 input queues the b=7 runs and the shuffle table"
[ -s "$tmp/dry" ] &&
    ! grep -Eq 'shuffle/b28-|xf-cka |xf-interp |xf-critic |--pairs|runs/yosinski|runs/checkpoints/' "$tmp/dry"
ok $? "and nothing that does not depend on it"
run paper > "$tmp/log2" 2>&1
ok $? "the rebuild succeeds"
grep -q 'parallel: 4 runs of shuffle' "$tmp/log2"
ok $? "it reran exactly the 4 runs at b=7"

# A changed import setting remakes that data file and what reads it.
run -n paper TGT_VAL="synthetic --count 90 -s 3 --split test" > "$tmp/dry2" 2>&1
grep -q 'xf-import synthetic --count 90 -s 3 --split test' "$tmp/dry2" &&
    grep -q 'runs/shuffle/b28-rit-s2 ' "$tmp/dry2"
ok $? "a changed validation subset remakes it and queues the runs it validates"
[ -s "$tmp/dry2" ] && ! grep -Eq 'xf-import synthetic --count (1000|300|200) ' "$tmp/dry2"
ok $? "and imports nothing else"
# Once more with a residual preset, on less of the synthetic data: every
# study runs end to end on resnet-8, and the tables name its modules.
run paper ARCH=resnet-8 OUT="$tmp/res" SRC_TRAIN="synthetic --count 300 -s 1" \
    TGT_TRAIN="synthetic --count 100 -s 2" \
    SRC_TEST="synthetic --count 100 -s 1 --split test" \
    TGT_TEST="synthetic --count 100 -s 2 --split test" \
    TGT_CKA="synthetic --count 50 -s 2 --split test" \
    TGT_CRIT="synthetic --count 50 -s 2 --split test" CRIT_GRID=2 \
    > "$tmp/log-res" 2>&1
ok $? "make paper ARCH=resnet-8 (log: $(tail -3 "$tmp/log-res" | tr '\n' ' '))"
rows=$(grep -c -E '^\| [a-z]+ \| .* \| (HOLDS|CONTRADICTED|INCONCLUSIVE) \|$' "$tmp/res/REPORT.md")
ok $(( rows == 22 ? 0 : 1 )) "resnet-8: every one of the 22 findings computed ($rows)"
grep -q '^pt	layer2.0.downsample.0	' "$tmp/res/analysis/criticality.tsv" &&
    ! grep -q '^pt	layer1.0	' "$tmp/res/analysis/criticality.tsv"
ok $? "resnet-8: criticality per module inside the blocks, none per block"
grep -q '^layer3.0	' "$tmp/res/analysis/cka-wide.tsv"
ok $? "resnet-8: CKA per block output"
tap_done
