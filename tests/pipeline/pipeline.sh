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
    analysis/{shuffle,curves,mistakes,mistakes-ex,cka,similarity,basins,distance,criticality,checkpoints,checkpoint-scores,yosinski,landscape,hessian}.tsv \
    fig/{shuffle-acc,curves,cka,interp,critic-pt,critic-rit,checkpoints,yosinski,landscape}.png; do
	[ -s "$tmp/out/$f" ]
	ok $? "artefact $f"
done
rows=$(grep -c -E '^\| [a-z]+ \| .* \| (HOLDS|CONTRADICTED|INCONCLUSIVE|NOT RUN) \|$' "$tmp/out/REPORT.md")
ok $(( rows == 28 ? 0 : 1 )) "report has 28 findings rows ($rows)"
[ -s "$tmp/out/REPORT.md" ] && ! grep -q 'NOT RUN' "$tmp/out/REPORT.md"
ok $? "every report row was computed"
# Three seeds: three replicate pairs of each kind, so CKA, l2 and the
# barriers have intervals over pairs.
for p in ptpt.2 ptpt.3 ritrit.2 ritrit.3 ptrit.2 ptrit.3; do
	grep -q "^$p	" "$tmp/out/analysis/cka.tsv" &&
	    grep -q "^$p	" "$tmp/out/analysis/basins.tsv" || echo "$p"
done > "$tmp/repbad"
ok $(( $(wc -c < "$tmp/repbad") == 0 ? 0 : 1 )) "replicate pairs in cka.tsv and basins.tsv $(tr '\n' ' ' < "$tmp/repbad")"
grep -Eq '^\| basins \| Two P-T solutions .*\| 3 \(t-interval over replicate pairs\)' "$tmp/out/REPORT.md"
ok $? "the P-T/P-T barrier is judged over 3 pairs"
# make paper runs shuffle on the other pair too, judged in rows of its own.
other=$( [ "$(sed -n 's/^REGIME_PAIR := //p' "$tmp/out/analysis/regime-choice.mk")" = near ] && echo far || echo near)
[ "$(grep -c "^| shuffle, $other pair | " "$tmp/out/REPORT.md")" -eq 4 ] &&
    [ -s "$tmp/out/other-pair/analysis/shuffle.tsv" ]
ok $? "the shuffle claims judged on the other pair ($other) too"
# The studies ran where the regime rule says: the title, the P-T runs'
# init and the target data name the chosen pair; both pages open with the
# regime section.
pair=$(sed -n 's/^REGIME_PAIR := //p' "$tmp/out/analysis/regime-choice.mk")
ntgt=$(sed -n 's/^REGIME_N_TARGET := //p' "$tmp/out/analysis/regime-choice.mk")
head -1 "$tmp/out/REPORT.md" | grep -q "N_TARGET = $ntgt (the $pair pair)" &&
    grep -q "<h2>Where pretraining helps" "$tmp/out/report.html" &&
    grep -q -- "--init $tmp/out/pre/$([ "$pair" = near ] && echo near/)p.tar " \
        "$tmp/out/runs/shuffle/b28-pt-s1.args"
ok $? "the studies run on the rule's choice ($pair, N = $ntgt), and the report says so"
counts=$(grep -o -E '^\*\*[0-9]+ hold, [0-9]+ are contradicted, [0-9]+ are inconclusive\.' "$tmp/out/REPORT.md")
sum=$(echo "$counts" | grep -o -E '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
ok $(( sum == 32 ? 0 : 1 )) "the report opens with counts by verdict that add to 32 (28 and the other pair's 4 shuffle claims): $counts"
# Issue 14's rows: SVCCA, PWCCA and Procrustes per pair and module; LogME
# and LEEP for every checkpoint of P's series; the Hessian of P-T and RI-T,
# measured or, where xf-hessian declined (exit 1), not measured with its
# reason, in the report either way.
for m in svcca pwcca procrustes; do
	for p in ptpt ritrit ptrit ppt; do
		[ "$(grep -c "^$m	$p	" "$tmp/out/analysis/similarity.tsv")" -eq 6 ] || echo "$m $p"
	done
done > "$tmp/simbad"
ok $(( $(wc -c < "$tmp/simbad") == 0 ? 0 : 1 )) "similarity.tsv: each measure for each pair and module $(head -2 "$tmp/simbad" | tr '\n' ' ')"
# P's series is the chosen pair's P (pre/near for the near pair's P_A).
pre=$tmp/out/pre
grep -q '^REGIME_PAIR := near' "$tmp/out/analysis/regime-choice.mk" && pre=$pre/near
nck=$(ls "$pre"/p-e*-s*.tar | wc -l)
for s in logme leep; do
	[ "$(grep -c "	$s	.*	scored$" "$tmp/out/analysis/checkpoint-scores.tsv")" -eq "$nck" ]
	ok $? "checkpoint-scores.tsv: $s of all $nck checkpoints"
done
grep -Eq '^\| checkpoints \| LogME picks .*Kendall.s τ' "$tmp/out/REPORT.md"
ok $? "the report gives Kendall's tau of LogME and fine-tuned accuracy"
hrows=$(grep -cE '^(pt|rit)	(eigenvalue|trace)	.*	measured$|^(pt|rit)	none	.*	not measured: xf-hessian: ' "$tmp/out/analysis/hessian.tsv")
ok $(( hrows >= 2 ? 0 : 1 )) "hessian.tsv: P-T and RI-T measured or not measured with xf-hessian's reason ($hrows rows)"
if grep -q 'not measured' "$tmp/out/analysis/hessian.tsv"; then
	grep -Eq '^\| landscape \| P-T sits in a flatter minimum by the Hessian.* not measured: xf-hessian: .*\| INCONCLUSIVE \|$' "$tmp/out/REPORT.md"
	ok $? "the report says the Hessian was not measured, and why: INCONCLUSIVE"
else
	grep -Eq '^\| landscape \| P-T sits in a flatter minimum by the Hessian.*λ₁' "$tmp/out/REPORT.md"
	ok $? "the report gives both models' Hessian eigenvalues"
fi
# test.mk's data are the regime's, so the six b = 28 runs are the regime's
# runs, copied, byte for byte: on the chosen pair (N = ntgt) and on the
# other pair of make paper's shuffle (OTHER_N, the same N or all the other
# target has); each sweep trains the 6 runs of b = 7 only.
reusebad() { # DIR REGIME-STEM
	for k in pt rit; do for s in 1 2 3; do
		for x in tar init.tar log.xfs ex.xfs eval.xfs; do
			cmp -s "$1/b28-$k-s$s.$x" "$2-$k-s$s.$x" || echo "$k-s$s.$x"
		done
	done; done
}
reused=$(grep -c "^b28-.*: the regime's run $pair-n$ntgt-" "$tmp/log")
reusebad "$tmp/out/runs/shuffle" "$tmp/out/runs/regime/$pair-n$ntgt" > "$tmp/reusebad"
[ "$reused" = 6 ] && [ ! -s "$tmp/reusebad" ]
ok $? "the b = 28 runs are the regime's, copied ($reused; differ: $(head -2 "$tmp/reusebad" | tr '\n' ' '))"
on=$(sed -n "s/^b28-pt-s1: the regime's run $other-n\([0-9a-z]*\)-pt-s1$/\1/p" "$tmp/log")
oreused=$(grep -c "^b28-.*: the regime's run $other-n$on-" "$tmp/log")
reusebad "$tmp/out/other-pair/runs/shuffle" "$tmp/out/runs/regime/$other-n$on" > "$tmp/reusebad"
[ -n "$on" ] && [ "$oreused" = 6 ] && [ ! -s "$tmp/reusebad" ]
ok $? "the other pair's b = 28 runs are the regime's too ($other, N = $on: $oreused; differ: $(head -2 "$tmp/reusebad" | tr '\n' ' '))"
[ "$(grep -c 'parallel: 6 runs of shuffle' "$tmp/log")" = 2 ]
ok $? "each shuffle sweep sent its 6 runs of b = 7 through GNU parallel"
notpng=0
for png in "$tmp"/out/fig/*.png; do
	[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] ||
	    notpng=$((notpng + 1))
done
ok $notpng "figures are PNG files ($notpng not)"

# (make paper's shuffle on the other pair is a make of its own, which make
# -n runs too: it may print its command line and must have nothing to do.)
run -n paper > "$tmp/again" 2>&1
grep -q "Nothing to be done for '\(paper\|shuffle\)'" "$tmp/again" &&
    [ "$(grep -v -e "^make shuffle SCALE=[a-z]* USE_REGIME=0 " -e "^  [A-Z_]*=" \
        -e "Nothing to be done for '\(paper\|shuffle\)'" "$tmp/again" |
        wc -l)" -eq 0 ]
st=$?
ok $st "a second make has nothing to do: $(head -2 "$tmp/again" | tr '\n' ' ')"
[ $st = 0 ] || { grep -v -e "^  [A-Z_]*=" "$tmp/again" | head -20 |
    sed 's/^/#   /'; ls -l --time-style=full-iso -rt "$tmp/out/other-pair" \
    "$tmp/out/analysis" | tail -12 | sed 's/^/#   /'; }

# From scratch again: every artefact (streams, checkpoints, tables, figures,
# report) comes out the same, byte for byte.
mv "$tmp/out" "$tmp/first"
run paper > "$tmp/log-again" 2>&1
diff -rq -x logs "$tmp/first" "$tmp/out" > "$tmp/diffs"
ok $? "re-run from scratch: the same bytes in all $(find "$tmp/out" -type f | wc -l) files $(head -3 "$tmp/diffs" | tr '\n' ' ')"

touch "$tmp/out/data/$pair/tgt-train-b7.xfs"
run -n paper > "$tmp/dry" 2>&1
grep -q 'runs/shuffle/b7-pt-s1 ' "$tmp/dry" && grep -q 'shuffle.tsv' "$tmp/dry"
ok $? "a changed b=7 input queues the b=7 runs and the shuffle table"
[ -s "$tmp/dry" ] &&
    ! grep -Eq 'shuffle/b28-|xf-cka |xf-interp |xf-critic |--pairs|runs/yosinski|runs/checkpoints/' "$tmp/dry"
ok $? "and nothing that does not depend on it"
run paper > "$tmp/log2" 2>&1
ok $? "the rebuild succeeds"
grep -q 'parallel: 6 runs of shuffle' "$tmp/log2"
ok $? "it reran exactly the 6 runs at b=7"

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
    TGT_TRAIN='$(TGT_SEL) --count 100' \
    SRC_TEST="synthetic --count 100 -s 1 --split test" \
    TGT_TEST='$(TGT_SEL) --count 100 --split test' \
    TGT_CKA='$(TGT_SEL) --count 50 --split test' \
    TGT_CRIT='$(TGT_SEL) --count 50 --split test' CRIT_GRID=2 \
    > "$tmp/log-res" 2>&1
ok $? "make paper ARCH=resnet-8 (log: $(tail -3 "$tmp/log-res" | tr '\n' ' '))"
rows=$(grep -c -E '^\| [a-z]+ \| .* \| (HOLDS|CONTRADICTED|INCONCLUSIVE) \|$' "$tmp/res/REPORT.md")
ok $(( rows == 28 ? 0 : 1 )) "resnet-8: every one of the 28 findings computed ($rows)"
grep -q '^pt	layer2.0.downsample.0	' "$tmp/res/analysis/criticality.tsv" &&
    ! grep -q '^pt	layer1.0	' "$tmp/res/analysis/criticality.tsv"
ok $? "resnet-8: criticality per module inside the blocks, none per block"
grep -q '^layer3.0	' "$tmp/res/analysis/cka-wide.tsv"
ok $? "resnet-8: CKA per block output"
grep -q '^procrustes	ptpt	layer3.0	' "$tmp/res/analysis/similarity.tsv"
ok $? "resnet-8: Procrustes per block output"
# The scores read the head's input, the average pool's 64 outputs.
pre=$tmp/res/pre
grep -q '^REGIME_PAIR := near' "$tmp/res/analysis/regime-choice.mk" && pre=$pre/near
nck=$(ls "$pre"/p-e*-s*.tar | wc -l)
for s in logme leep; do
	# LEEP's width is the source's class count.
	[ "$s" = logme ] && w=64 || w=
	got=$(awk -F '\t' -v s=$s -v w=$w '$3 == s && (w == "" || $6 == w) &&
	    $7 == "scored" && $4 != "nan"' "$tmp/res/analysis/checkpoint-scores.tsv" | wc -l)
	ok $(( nck > 0 && got == nck ? 0 : 1 )) "resnet-8: $s of all $nck checkpoints${w:+, on $w features} ($got)"
done
grep -Eq '^\| checkpoints \| LogME picks .*Kendall.s τ' "$tmp/res/REPORT.md" &&
    ! grep -q 'not scored' "$tmp/res/REPORT.md"
ok $? "resnet-8: the report gives Kendall's tau of LogME and fine-tuned accuracy"
grep -Eq '^rit	(eigenvalue	.*	measured|none	.*	not measured: xf-hessian: .*)$' "$tmp/res/analysis/hessian.tsv"
ok $? "resnet-8: RI-T's Hessian measured, or not with xf-hessian's reason (batch norm)"
tap_done
