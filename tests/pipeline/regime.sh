#!/bin/bash
# The regime study (pipelines/regime.mk, regime.py): its rule and intervals
# against independent references on synthetic tables (one table per outcome
# of the rule), then the study on the tiny synthetic configuration
# (pipelines/test.mk + regime-test.mk): the figures, the tables and the
# rule's choice exist and agree with each other and with the report.
. "$(dirname "$0")/../tap.sh"

cd "$top/pipelines" || exit 1
/usr/bin/python3 - > "$tmp/unit" 2>&1 <<'EOF'
import math, sys
import numpy as np
from scipy import stats
import regime

n = 0
def ok(cond, what):
    global n
    n += 1
    print(("ok" if cond else "not ok"), n, "-", what)

# The t-interval against scipy's, on seeded draws of 2, 3 and 5 values.
rng = np.random.default_rng(1)
for k in (2, 3, 5):
    xs = list(rng.normal(0.9, 0.02, k))
    m, lo, hi = regime.interval(xs)
    rlo, rhi = stats.t.interval(0.95, k - 1, loc=np.mean(xs),
                                scale=stats.sem(xs))
    ok(abs(m - np.mean(xs)) < 1e-12 and abs(lo - rlo) < 1e-9 and
       abs(hi - rhi) < 1e-9, "interval of %d values is scipy's t.interval" % k)
ok(regime.interval([0.5])[1:] == (None, None), "one value has no interval")

# The rule, one synthetic mean table per outcome: rows (pair, n, lead, lo, hi).
def rows(near, far):
    return ([("near", n, (lo + hi) / 2, lo, hi) for n, lo, hi in near] +
            [("far", n, (lo + hi) / 2, lo, hi) for n, lo, hi in far])
far_none = [(100, -0.02, 0.01), (1000, -0.01, 0.005)]
c = regime.choose(rows([(100, 0.02, 0.05), (300, 0.015, 0.04),
                        (1000, 0.005, 0.03)], far_none), "near", 0.01)
ok(c[:3] == ("near", 300, True), "largest qualifying N on the near pair: %r" % (c[:3],))
c = regime.choose(rows([(100, 0.02, 0.05), (300, -0.01, 0.04),
                        (1000, 0.011, 0.03)], far_none), "near", 0.01)
ok(c[:3] == ("near", 1000, True), "not monotone: still the largest qualifying N")
c = regime.choose(rows([(100, 0.01, 0.05), (300, -0.01, 0.04)],
                       [(100, 0.02, 0.04), (1000, 0.012, 0.02)]), "near", 0.01)
ok(c[:3] == ("far", 1000, True),
   "a lower end at the threshold does not qualify; then the far pair: %r" % (c[:3],))
c = regime.choose(rows([(100, -0.01, 0.05), (300, 0.005, 0.04)], far_none),
                  "near", 0.01)
ok(c[:3] == ("near", 300, False) and "premise is not met" in c[3],
   "nowhere: premise not met, the near N with the highest lower end")
c = regime.choose(rows([(100, 0.03, 0.05)], far_none), "far", 0.01)
ok(c[:3] == ("near", 100, True), "REG_PICK_PAIR=far falls back to near")
c = regime.choose([("near", 100, 0.1, None, None), ("near", 300, 0.1, None, None)],
                  "near", 0.01)
ok(c[:3] == ("near", 300, False), "one seed: no interval, no qualifying N")

# The plateau criterion.
flat = [(s, 0.9 + 0.001 * (s % 2)) for s in range(10, 410, 10)]
rising = [(s, s / 400.0) for s in range(10, 410, 10)]
ok(regime.converged(flat, 0.01), "a flat curve has converged")
ok(not regime.converged(rising, 0.01), "a rising curve has not")
ok(not regime.converged(rising[:3], 0.01), "a three-point curve has not")

# Runs that never left chance: under 1.5 x 1/classes.
ok(regime.at_chance(0.2, 0.2) and regime.at_chance(0.105, 0.1),
   "20% on five classes and 10.5% on ten are at chance")
ok(not regime.at_chance(0.32, 0.2) and not regime.at_chance(0.93, 0.1),
   "32% on five classes and 93% on ten are not")
print("1..%d" % n)
EOF
sed -n '/^1\.\./!p' "$tmp/unit" | while read -r s num rest; do
	if [ "$s" = ok ]; then pass "rule: ${rest#- }"; else
	    not_ok "rule: ${rest#- }"; fi; done > "$tmp/unit.tap"
cat "$tmp/unit.tap"
n=$((n + $(wc -l < "$tmp/unit.tap")))
grep -q '^1\.\.' "$tmp/unit"
ok $? "the rule's unit tests ran to the end $(grep -v '^ok\|^not ok\|^1\.\.' "$tmp/unit" | head -3 | tr '\n' ' ')"

run() { make -C "$top/pipelines" --no-print-directory CONFIG=test.mk \
    OUT="$tmp/out" "$@"; }
run regime > "$tmp/log" 2>&1
ok $? "make regime on synthetic data (log: $(tail -3 "$tmp/log" | tr '\n' ' '))"
grep -q 'parallel: 24 runs of regime' "$tmp/log"
ok $? "the 24 runs (2 pairs x 2 sizes x 2 kinds x 3 seeds) went through GNU parallel"
for f in fig/regime.png fig/regime-curves.png analysis/regime.tsv \
    analysis/regime-mean.tsv analysis/regime-curves.tsv analysis/regime-choice.mk; do
	[ -s "$tmp/out/$f" ]
	ok $? "artefact $f"
done
for png in "$tmp"/out/fig/regime*.png; do
	[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]
	ok $? "$(basename "$png") is a PNG file"
done

# The tables agree: each mean row is recomputed from the per-run table
# (numpy/scipy), and the choice from the mean table, with the rule written
# out again here.
/usr/bin/python3 - "$tmp/out/analysis" > "$tmp/agree" 2>&1 <<'EOF'
import csv, sys
import numpy as np
from scipy import stats
a = sys.argv[1]
rd = lambda f: list(csv.DictReader(open(a + "/" + f), delimiter="\t"))
runs, mean = rd("regime.tsv"), rd("regime-mean.tsv")
bad = []
assert len(runs) == 24, len(runs)
assert {r["pair"] for r in runs} == {"near", "far"}
for m in mean:
    sel = lambda k: {int(r["seed"]): float(r["acc"]) for r in runs
                     if r["pair"] == m["pair"] and r["n"] == m["n"] and r["kind"] == k}
    pt, rit = sel("pt"), sel("rit")
    d = np.array([pt[s] - rit[s] for s in sorted(pt)])
    for k, xs in (("pt", list(pt.values())), ("rit", list(rit.values())), ("lead", d)):
        mu = np.mean(xs)
        if np.std(xs) > 0:
            lo, hi = stats.t.interval(0.95, len(xs) - 1, loc=mu, scale=stats.sem(xs))
        else:
            lo = hi = mu
        for got, want in ((m[k], mu), (m[k + "_lo"], lo), (m[k + "_hi"], hi)):
            if abs(float(got) - want) > 1e-5:
                bad.append("%s n=%s %s: %s != %g" % (m["pair"], m["n"], k, got, want))
ch = dict(l.split(" := ") for l in open(a + "/regime-choice.mk").read().splitlines()
          if ":=" in l)
q = [m for m in mean if m["pair"] == "near" and float(m["lead_lo"]) > 0.01] or \
    [m for m in mean if m["pair"] == "far" and float(m["lead_lo"]) > 0.01]
if q:
    want = (q[0]["pair"], max(int(m["n"]) for m in q), "met")
else:
    near = [m for m in mean if m["pair"] == "near"]
    best = max(near, key=lambda m: (float(m["lead_lo"]), -int(m["n"])))
    want = ("near", int(best["n"]), "not-met")
got = (ch["REGIME_PAIR"], int(ch["REGIME_N_TARGET"]), ch["REGIME_PREMISE"])
if got != want:
    bad.append("choice %r, the rule gives %r" % (got, want))
print("\n".join(bad) or "agree")
print("N=%s" % ch["REGIME_N_TARGET"])
print("PAIR=%s" % ch["REGIME_PAIR"])
EOF
grep -qx agree "$tmp/agree"
ok $? "mean table and choice agree with the runs $(head -3 "$tmp/agree" | tr '\n' ' ')"

# The report opens with the regime section, naming the chosen size.
chosen=$(sed -n 's/^N=//p' "$tmp/agree")
pair=$(sed -n 's/^PAIR=//p' "$tmp/agree")
run report STUDIES= > "$tmp/rlog" 2>&1
ok $? "the report with the regime study only (log: $(tail -2 "$tmp/rlog" | tr '\n' ' '))"
sed -n 3p "$tmp/out/REPORT.md" | grep -q '^## Where pretraining helps'
ok $? "REPORT.md opens with the regime section"
sed -n 5p "$tmp/out/REPORT.md" | grep -q '(fig/regime.png)'
ok $? "then the regime figure"
grep -q "^\*\*Chosen: the $pair pair at N_TARGET = $chosen\*\*" "$tmp/out/REPORT.md"
ok $? "and the chosen pair and size ($pair, $chosen)"
rows=$(grep -cE '^\| (near|far) \| [0-9]+ \| ' "$tmp/out/REPORT.md")
ok $(( rows == 4 ? 0 : 1 )) "a row per pair and size ($rows)"

run -n regime > "$tmp/again" 2>&1
grep -q "Nothing to be done for 'regime'" "$tmp/again"
ok $? "a second make regime has nothing to do: $(head -2 "$tmp/again" | tr '\n' ' ')"
run -n regime REG_MIN_LEAD=0.02 > "$tmp/dry" 2>&1
grep -q 'regime.py tables' "$tmp/dry" && ! grep -q 'runs/regime/' "$tmp/dry"
ok $? "a changed rule redoes the tables, not the runs"
tap_done
