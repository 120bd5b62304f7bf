"""The report's statistics and verdict rules on synthetic tables.

    python3 -B test_report.py PIPELINES_DIR SCRATCH_DIR

Prints one line "STATUS<TAB>DESCRIPTION" per test (0 passed), for
tests/pipeline/report-rules.sh to turn into TAP.  The statistics are checked
against scipy (test-only); every rule of report.py is fed tables written as
the pipelines write them, built so that it must give HOLDS, CONTRADICTED and
INCONCLUSIVE in turn, and the verdict is checked.
"""
import math
import os
import re
import shutil
import sys

import numpy as np
import scipy.stats

sys.path.insert(0, sys.argv[1])
import report  # noqa: E402
import stats  # noqa: E402
from stats import HOLDS, CONTRADICTED, INCONCLUSIVE  # noqa: E402

SCRATCH = sys.argv[2]


def result(passed, text):
    print("%d\t%s" % (0 if passed else 1, text.replace("\n", " ")))


# ---- the statistics against scipy and by hand ----

worst = 0.0
for df in (1, 1.5, 2, 3, 4, 5, 7, 10, 19, 30, 57.3, 120, 1000):
    for p in (0.5, 0.6, 0.9, 0.95, 0.975, 0.995, 0.025):
        ours, ref = stats.t_quantile(p, df), scipy.stats.t.ppf(p, df)
        worst = max(worst, abs(ours - ref) / max(1.0, abs(ref)))
result(worst < 1e-7, "t quantile = scipy's over df 1..1000 (worst relative "
       "error %.2g)" % worst)
worst = max(abs(stats.t_cdf(t, df) - scipy.stats.t.cdf(t, df))
            for df in (1, 2, 5, 30) for t in (-8, -2, -0.3, 0, 0.7, 3, 40))
result(worst < 1e-10, "t CDF = scipy's (worst %.2g)" % worst)

xs = [0.91, 0.93, 0.90, 0.95, 0.92]
iv = stats.mean_interval(xs)
ref = scipy.stats.t.interval(0.95, len(xs) - 1, loc=np.mean(xs),
                             scale=scipy.stats.sem(xs))
result(abs(iv.lo - ref[0]) < 1e-9 and abs(iv.hi - ref[1]) < 1e-9 and iv.n == 5,
       "mean t-interval = scipy's (%.5f, %.5f)" % (iv.lo, iv.hi))
a, b = {1: 0.9, 2: 0.8, 3: 0.85}, {1: 0.7, 2: 0.75, 3: 0.6, 4: 0.1}
iv = stats.paired(a, b)
d = [0.2, 0.05, 0.25]
ref = scipy.stats.t.interval(0.95, 2, loc=np.mean(d), scale=scipy.stats.sem(d))
result(iv.n == 3 and abs(iv.est - np.mean(d)) < 1e-12 and
       abs(iv.lo - ref[0]) < 1e-9 and abs(iv.hi - ref[1]) < 1e-9,
       "paired interval: over the seeds both arms have, = scipy's")
ys = [0.80, 0.86, 0.79, 0.83]
iv = stats.welch(xs, ys)
# Welch's formula in numpy, with scipy's t quantile; scipy's test statistic
# and p-value must agree with the same standard error and df.
vx, vy = np.var(xs, ddof=1) / len(xs), np.var(ys, ddof=1) / len(ys)
df = (vx + vy) ** 2 / (vx ** 2 / (len(xs) - 1) + vy ** 2 / (len(ys) - 1))
h = scipy.stats.t.ppf(0.975, df) * math.sqrt(vx + vy)
test = scipy.stats.ttest_ind(xs, ys, equal_var=False)
est = np.mean(xs) - np.mean(ys)
result(abs(iv.lo - (est - h)) < 1e-9 and abs(iv.hi - (est + h)) < 1e-9 and
       abs(2 * scipy.stats.t.sf(est / math.sqrt(vx + vy), df) - test.pvalue) < 1e-9,
       "Welch interval = Welch's formula with scipy's t (df %.2f)" % df)
result(math.isnan(stats.mean_interval([0.9]).lo) and
       stats.verdict(stats.mean_interval([0.9])) == INCONCLUSIVE,
       "one seed: no interval, INCONCLUSIVE")
k, n = 7, 20
iv = stats.wilson(k, n)
ref = scipy.stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
result(abs(iv.lo - ref.low) < 1e-9 and abs(iv.hi - ref.high) < 1e-9,
       "Wilson interval = scipy's binomtest")
rng = np.random.default_rng(5)
x = rng.normal(0.3, 1.0, 400)
iv1 = stats.bootstrap(np.mean, [x])
iv2 = stats.bootstrap(np.mean, [x])
ref = scipy.stats.bootstrap((x,), np.mean, n_resamples=2000, method="percentile",
                            random_state=1).confidence_interval
result(iv1 == iv2 and abs(iv1.lo - ref.low) < 0.03 and
       abs(iv1.hi - ref.high) < 0.03 and iv1.n == 400,
       "bootstrap: seeded (same twice), near scipy's percentile interval "
       "(%.3f, %.3f) vs (%.3f, %.3f)" % (iv1.lo, iv1.hi, ref.low, ref.high))
cover = 0
for rep in range(200):
    x = rng.normal(1.0, 2.0, 4)
    iv = stats.mean_interval(x)
    cover += iv.lo < 1.0 < iv.hi
result(180 <= cover <= 198, "t-interval with 4 seeds covers the true mean "
       "%d of 200 times (95%% nominal)" % cover)
I = stats.Interval
checks = [(I(1, 0.1, 2, 3, ""), {}, HOLDS),
          (I(-1, -2, -0.1, 3, ""), {}, CONTRADICTED),
          (I(0, 0, 0, 3, ""), {}, CONTRADICTED),
          (I(1, -0.1, 2, 3, ""), {}, INCONCLUSIVE),
          (I(0.001, 0.0, 0.004, 3, ""), {"below": 0.01}, HOLDS),
          (I(0.02, 0.011, 0.03, 3, ""), {"below": 0.01}, CONTRADICTED),
          (I(0.02, 0.005, 0.03, 3, ""), {"below": 0.01}, INCONCLUSIVE),
          (I(0.02, 0.011, 0.03, 3, ""), {"above": 0.01}, HOLDS),
          (stats.none(5, 1, ""), {}, INCONCLUSIVE)]
result(all(stats.verdict(iv, **kw) == want for iv, kw, want in checks),
       "verdict: the side of the threshold each interval lies on")
result(stats.all_of([HOLDS, HOLDS]) == HOLDS and
       stats.all_of([HOLDS, INCONCLUSIVE]) == INCONCLUSIVE and
       stats.all_of([HOLDS, CONTRADICTED]) == CONTRADICTED and
       stats.any_of([CONTRADICTED, HOLDS]) == HOLDS and
       stats.any_of([CONTRADICTED, INCONCLUSIVE]) == INCONCLUSIVE and
       stats.any_of([CONTRADICTED, CONTRADICTED]) == CONTRADICTED,
       "all_of and any_of combine parts")

# ---- synthetic tables ----

NOISE = np.random.default_rng(7).normal(0, 1, 10000)
_k = [0]


def noise(amp):
    _k[0] = (_k[0] + 1) % len(NOISE)
    return amp * NOISE[_k[0]]


def write(adir, name, header, rows):
    with open(os.path.join(adir, name), "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")


SEEDS = (1, 2, 3, 4)


def shuffle(adir, base=None, drop=None, speed=None, slow=None, amp=0.002,
            seeds=SEEDS):
    """Accuracy base[kind] at b = 28, minus drop[kind] at b = 1; speed in
    steps, times slow[kind] at b = 1; amp is the seed-to-seed noise."""
    base = {"pt": 0.9, "rit": 0.9, **(base or {})}
    drop = {"pt": 0.0, "rit": 0.0, **(drop or {})}
    speed = {"pt": 100, "rit": 100, **(speed or {})}
    slow = {"pt": 1.0, "rit": 1.0, **(slow or {})}
    rows = []
    for b in (28, 7, 1):
        for kind in ("pt", "rit"):
            for s in seeds:
                frac = {28: 0, 7: 0.5, 1: 1}[b]
                acc = base[kind] - frac * drop[kind] + noise(amp)
                steps = speed[kind] * (1 + frac * (slow[kind] - 1)) * (1 + noise(amp * 5))
                rows.append((b, kind, s, "%.6g" % acc, 0.3, int(round(steps))))
    write(adir, "shuffle.tsv", ["b", "kind", "seed", "acc", "loss",
                                "speed_steps"], rows)


def mistakes(adir, pt2_like_pt1, rit_like_pt1, rit_rights=None, n=2000,
             rate=0.1):
    """Wrong-example columns: pt1 random at RATE; pt2 and rit1 copy pt1's
    mistakes with the given probability (else fresh ones); rit_rights, if
    given, is how many of pt1's mistakes rit1 gets right (rit1 is then pt1
    plus extra mistakes, minus those)."""
    rng = np.random.default_rng(11)
    pt1 = rng.random(n) < rate

    def like(p):
        keep = rng.random(n) < p
        return np.where(keep, pt1, rng.random(n) < rate)
    pt2, rit1, rit2 = like(pt2_like_pt1), like(rit_like_pt1), like(0)
    if rit_rights is not None:
        rit1 = pt1 | (rng.random(n) < rate)
        idx = np.flatnonzero(pt1)[:rit_rights]
        rit1[idx] = False
    cols = {"b28-pt-s1": pt1, "b28-pt-s2": pt2, "b28-rit-s1": rit1,
            "b28-rit-s2": rit2}
    write(adir, "mistakes-ex.tsv", ["i"] + list(cols),
          [[i] + [int(c[i]) for c in cols.values()] for i in range(n)])
    rows = []
    for name, a, b in (("ptpt", "b28-pt-s1", "b28-pt-s2"),
                       ("ritrit", "b28-rit-s1", "b28-rit-s2"),
                       ("ptrit", "b28-pt-s1", "b28-rit-s1")):
        x, y = cols[a], cols[b]
        rows.append((name, a, b, n, int(np.sum(~x & ~y)), int(np.sum(x & y)),
                     int(np.sum(x & y)), int(np.sum(x & ~y)),
                     int(np.sum(~x & y))))
    write(adir, "mistakes.tsv", ["pair", "a", "b", "n", "both_right",
                                 "both_wrong", "same_wrong", "only_a_wrong",
                                 "only_b_wrong"], rows)


def pairs_of(values, reps):
    """Replicate pair names: ptpt, or ptpt.1 ... ptpt.REPS."""
    return [(p if reps == 1 else "%s.%d" % (p, k), v)
            for p, v in values.items() for k in range(1, reps + 1)]


def cka(adir, values, reps=3, amp=0.005):
    rows = [(name, m, "%.6g" % (v + noise(amp)), 100)
            for name, v in pairs_of(values, reps)
            for m in ("conv1", "conv2", "fc1")]
    write(adir, "cka.tsv", ["pair", "module", "cka", "n"], rows)


def distance(adir, values, reps=3, amp=0.1):
    rows = []
    for name, v in pairs_of(values, reps):
        rows += [(name, "total", "%.6g" % (v + noise(amp))),
                 (name, "conv1", "%.6g" % (v / 2))]
    write(adir, "distance.tsv", ["pair", "module", "total"], rows)


def basins(adir, values, reps=3, amp=0.001):
    rows = [(name, "%.6g" % max(0.0, v + noise(amp)), 0.1, 0.05, 0.2)
            for name, v in pairs_of(values, reps)]
    write(adir, "basins.tsv", ["pair", "barrier", "barrier_loss", "error_min",
                               "error_max"], rows)


def aligned(adir, raw, al, reps=3, amp=0.01):
    rows = [(kind, 1, 2 + k, "%.6g" % max(0.0, raw + noise(amp)),
             "%.6g" % max(0.0, al + noise(amp)), 0.5, 0.1, 0.6, 0.1, 0.05,
             -1.3, 34.0, 200, 224)
            for k in range(reps) for kind in ("rit", "pt")]
    write(adir, "basins-aligned.tsv", ["kind", "seed_a", "seed_b", "barrier",
                                       "barrier_aligned", "barrier_loss",
                                       "barrier_loss_aligned", "error_mid",
                                       "error_mid_aligned", "ens_error_mid",
                                       "inner", "inner_aligned", "moved",
                                       "units"], rows)


MODULES = ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")


def criticality(adir, mu_pt, alpha_rit):
    rows = [("pt", m, mu, 1.0, "nan") for m, mu in zip(MODULES, mu_pt)]
    rows += [("rit", m, 5.0, 1.0, a) for m, a in zip(MODULES, alpha_rit)]
    write(adir, "criticality.tsv", ["kind", "module", "mu", "dist",
                                    "alpha_min"], rows)


def checkpoints(adir, mid, last, n=10000):
    rows = []
    for step in range(0, 201, 20):
        acc = mid if step <= 100 else last
        rows.append((step, step // 40, 0.8, "%.6g" % acc, n))
    write(adir, "checkpoints.tsv", ["pre_step", "pre_epoch", "upstream_acc",
                                    "downstream_acc", "n"], rows)


def yosinski(adir, acc=None, amp=0.002, seeds=SEEDS):
    """acc(kind, n) overrides the default 0.9 for some (kind, n)."""
    acc = acc or {}
    rows = [(k, 0, s, "%.6g" % (acc.get((k, 0), 0.9) + noise(amp)))
            for k in ("baseA", "baseB") for s in seeds]
    for k in ("AnB", "BnB", "AnB+", "BnB+", "rand", "dis"):
        for n in range(1, 6):
            for s in seeds:
                v = acc.get((k, n), acc.get((k, None), 0.9))
                rows.append((k, n, s, "%.6g" % (v + noise(amp))))
    write(adir, "yosinski.tsv", ["kind", "n", "seed", "acc"], rows)


def landscape(adir, pt, rit, amp=0.01, seeds=SEEDS):
    rows = [(m, s, "%.6g" % (pt + noise(amp)), "%.6g" % (rit + noise(amp)))
            for m in ("distance", "grad_norm", "sharpness", "grad_change")
            for s in seeds]
    write(adir, "landscape.tsv", ["measure", "seed", "pt", "rit"], rows)


def similarity(adir, values, reps=3, amp=0.005):
    """similarity.tsv: values[measure][pair] per module, plus noise."""
    rows = [(m, name, mod, "%.6g" % (v + noise(amp)), 100, 20, 21)
            for m, vs in values.items() for name, v in pairs_of(vs, reps)
            for mod in ("conv1", "conv2", "fc1")]
    write(adir, "similarity.tsv", ["measure", "pair", "module", "value", "n",
                                   "dims_a", "dims_b"], rows)


SIM_OK = {"ptpt": 0.95, "ritrit": 0.6, "ptrit": 0.5, "ppt": 0.9}
SIM_BAD = {"ptpt": 0.5, "ritrit": 0.9, "ptrit": 0.6, "ppt": 0.9}


def sim_case(measure, values, **kw):
    """All three measures present, MEASURE's set to VALUES; the others at
    SIM_OK (as similarities; 1 − that as Procrustes distances)."""
    def dist(vs):
        return {p: 1 - v for p, v in vs.items()}
    out = {m: (dist(SIM_OK) if m == "procrustes" else SIM_OK)
           for m in ("svcca", "pwcca", "procrustes")}
    out[measure] = dist(values) if measure == "procrustes" else values
    return lambda d: similarity(d, out, **kw)


def scores_tables(adir, acc, score, n=10000):
    """checkpoints.tsv with fine-tuned accuracy acc[k] and
    checkpoint-scores.tsv with both scores = score[k], checkpoint k at step
    10k."""
    write(adir, "checkpoints.tsv", ["pre_step", "pre_epoch", "upstream_acc",
                                    "downstream_acc", "n"],
          [(10 * k, k // 4, 0.8, "%.6g" % a, n) for k, a in enumerate(acc)])
    write(adir, "checkpoint-scores.tsv", ["pre_step", "pre_epoch", "score",
                                          "value", "n", "features", "status"],
          [(10 * k, k // 4, name, "%.6g" % v, 300, 128, "scored")
           if v is not None else
           (10 * k, k // 4, name, "nan", 0, 0, "not scored: xf-eval: p.tar: "
            "LogME: alpha / beta did not converge in 1000 iterations")
           for k, v in enumerate(score) for name in ("leep", "logme")])


def hessian(adir, pt, rit, se=0.5, status=None):
    """hessian.tsv: top eigenvalue pt[0]/rit[0] (residual bound 0.01) and
    trace pt[1]/rit[1] (standard error se); status, if given, is P-T's
    "not measured" line."""
    rows = []
    for kind, (lam, tr) in (("pt", pt), ("rit", rit)):
        if kind == "pt" and status:
            rows.append((kind, "none", 0, "nan", "nan", 0, status))
            continue
        rows += [(kind, "eigenvalue", 1, lam, 0.01, 30, "measured"),
                 (kind, "trace", 0, tr, se, 30, "measured")]
    write(adir, "hessian.tsv", ["kind", "quantity", "index", "value", "error",
                                "steps", "status"], rows)


NOT_MEASURED = ("not measured: xf-hessian: b28-pt-s1.tar: all: the top "
                "eigenvalue depends on the step")
# Fine-tuned accuracy over 8 checkpoints: the best (0.93) at index 5.
CK_ACC = (0.10, 0.80, 0.88, 0.90, 0.92, 0.93, 0.925, 0.92)

# Each rule: the claim (group, index) and, per verdict, a function writing
# the tables that must give it.
ALL = {"pt": 0.1, "rit": 0.1}
CASES = [
    (("shuffle", 0), {
        HOLDS: lambda d: shuffle(d, drop=ALL),
        CONTRADICTED: lambda d: shuffle(d, drop={"pt": 0.1, "rit": -0.1}),
        INCONCLUSIVE: lambda d: shuffle(d, drop={"pt": 0.1, "rit": 0.0}, amp=0.03)}),
    (("shuffle", 1), {
        HOLDS: lambda d: shuffle(d, base={"pt": 0.95}),
        CONTRADICTED: lambda d: shuffle(d, base={"rit": 0.95}),
        INCONCLUSIVE: lambda d: shuffle(d, amp=0.03)}),
    (("shuffle", 2), {
        HOLDS: lambda d: shuffle(d, base={"pt": 0.95, "rit": 0.85},
                                 drop={"pt": 0.05, "rit": -0.03}),
        CONTRADICTED: lambda d: shuffle(d, base={"pt": 0.95, "rit": 0.9},
                                        drop={"pt": 0.0, "rit": 0.2}),
        INCONCLUSIVE: lambda d: shuffle(d, base={"pt": 0.95, "rit": 0.85},
                                        amp=0.03)}),
    (("shuffle", 3), {
        HOLDS: lambda d: shuffle(d, slow={"rit": 3.0}),
        CONTRADICTED: lambda d: shuffle(d, slow={"pt": 3.0}),
        INCONCLUSIVE: lambda d: shuffle(d, seeds=(1,))}),
    (("mistakes", 0), {
        HOLDS: lambda d: mistakes(d, 0.8, 0.1),
        CONTRADICTED: lambda d: mistakes(d, 0.1, 0.8),
        INCONCLUSIVE: lambda d: mistakes(d, 0.3, 0.3)}),
    (("mistakes", 1), {
        HOLDS: lambda d: mistakes(d, 0.5, 0.5, rit_rights=60),
        CONTRADICTED: lambda d: mistakes(d, 0.5, 0.5, rit_rights=0),
        INCONCLUSIVE: lambda d: mistakes(d, 0.5, 0.5, rit_rights=1)}),
    (("cka", 0), {
        HOLDS: lambda d: cka(d, {"ptpt": 0.95, "ritrit": 0.6, "ptrit": 0.5, "ppt": 0.9}),
        CONTRADICTED: lambda d: cka(d, {"ptpt": 0.5, "ritrit": 0.9, "ptrit": 0.6, "ppt": 0.9}),
        INCONCLUSIVE: lambda d: cka(d, {"ptpt": 0.95, "ritrit": 0.6, "ptrit": 0.5, "ppt": 0.9},
                                    reps=1)}),
    (("distance", 0), {
        HOLDS: lambda d: distance(d, {"ptpt": 5, "ritrit": 17, "ptrit": 15, "ppt": 3}),
        CONTRADICTED: lambda d: distance(d, {"ptpt": 17, "ritrit": 5, "ptrit": 15, "ppt": 3}),
        INCONCLUSIVE: lambda d: distance(d, {"ptpt": 10, "ritrit": 10.1, "ptrit": 15, "ppt": 3},
                                         amp=1.0)}),
    (("basins", 0), {
        HOLDS: lambda d: basins(d, {"ptpt": 0.002, "ritrit": 0.3, "ptrit": 0.3}),
        CONTRADICTED: lambda d: basins(d, {"ptpt": 0.05, "ritrit": 0.3, "ptrit": 0.3}),
        INCONCLUSIVE: lambda d: basins(d, {"ptpt": 0.002, "ritrit": 0.3, "ptrit": 0.3},
                                       reps=1)}),
    (("basins", 1), {
        HOLDS: lambda d: basins(d, {"ptpt": 0.002, "ritrit": 0.3, "ptrit": 0.3}),
        CONTRADICTED: lambda d: basins(d, {"ptpt": 0.002, "ritrit": 0.003, "ptrit": 0.3},
                                       amp=0.0005),
        INCONCLUSIVE: lambda d: basins(d, {"ptpt": 0.002, "ritrit": 0.012, "ptrit": 0.3},
                                       amp=0.005)}),
    (("aligned", 0), {
        HOLDS: lambda d: aligned(d, 0.57, 0.02),
        CONTRADICTED: lambda d: aligned(d, 0.10, 0.099, amp=0.0005),
        INCONCLUSIVE: lambda d: aligned(d, 0.57, 0.02, reps=1)}),
    (("criticality", 0), {
        HOLDS: lambda d: criticality(d, (1, 2, 1.5, 1e3, 2e3, 5e3), [0.3] * 6),
        CONTRADICTED: lambda d: criticality(d, (1e3, 2e3, 5e3, 1, 2, 1.5), [0.3] * 6),
        INCONCLUSIVE: lambda d: criticality(d, (1, 100, 10, 5, 50, 20), [0.3] * 6)}),
    (("criticality", 1), {
        HOLDS: lambda d: criticality(d, [1] * 6, [0.3] * 6),
        CONTRADICTED: lambda d: criticality(d, [1] * 6, [0] * 6),
        INCONCLUSIVE: lambda d: criticality(d, [1] * 6, [0.3, 0.5, 0, 0, "nan", 0.2])}),
    (("checkpoints", 0), {
        HOLDS: lambda d: checkpoints(d, 0.900, 0.901),
        CONTRADICTED: lambda d: checkpoints(d, 0.80, 0.90),
        INCONCLUSIVE: lambda d: checkpoints(d, 0.89, 0.90)}),
    (("yosinski", 0), {
        HOLDS: lambda d: yosinski(d, {("BnB", 3): 0.8}),
        CONTRADICTED: lambda d: yosinski(d, {("BnB", None): 0.95}),
        INCONCLUSIVE: lambda d: yosinski(d, amp=0.03)}),
    (("yosinski", 1), {
        HOLDS: lambda d: yosinski(d, {("AnB", 5): 0.7}),
        CONTRADICTED: lambda d: yosinski(d, {("AnB", 1): 0.7}),
        INCONCLUSIVE: lambda d: yosinski(d, seeds=(1,))}),
    (("yosinski", 2), {
        HOLDS: lambda d: yosinski(d, {("AnB+", None): 0.95}),
        CONTRADICTED: lambda d: yosinski(d, {("AnB+", None): 0.85}),
        INCONCLUSIVE: lambda d: yosinski(d, amp=0.03)}),
    (("yosinski", 3), {
        HOLDS: lambda d: yosinski(d, {("rand", None): 0.7}),
        CONTRADICTED: lambda d: yosinski(d, {("rand", None): 0.7, ("rand", 2): 0.95}),
        INCONCLUSIVE: lambda d: yosinski(d, {("rand", None): 0.7, ("rand", 2): 0.9})}),
    (("yosinski", 4), {
        HOLDS: lambda d: yosinski(d, {("dis", None): 0.8}),
        CONTRADICTED: lambda d: yosinski(d, {("dis", None): 0.95}),
        INCONCLUSIVE: lambda d: yosinski(d, amp=0.03)}),
] + [(("landscape", i), {
        HOLDS: lambda d: landscape(d, 1.0, 2.0),
        CONTRADICTED: lambda d: landscape(d, 2.0, 1.0),
        INCONCLUSIVE: lambda d: landscape(d, 1.0, 1.0, amp=0.5)}) for i in range(3)] + [
    (("similarity_measures", i), {
        HOLDS: sim_case(m, SIM_OK),
        CONTRADICTED: sim_case(m, SIM_BAD),
        # In the claimed direction, but one pair of each: no interval.
        INCONCLUSIVE: sim_case(m, SIM_OK, reps=1)})
    for i, m in enumerate(("svcca", "pwcca", "procrustes"))] + [
    (("scores", i), {
        # The score ranks the best checkpoint first.
        HOLDS: lambda d: scores_tables(d, CK_ACC, CK_ACC),
        # It ranks first one that fine-tunes 5 points below the best.
        CONTRADICTED: lambda d: scores_tables(
            d, CK_ACC, (0.1, 0.2, 0.9, 0.3, 0.4, 0.5, 0.45, 0.4)),
        # 1 point below the best, on 2,000 test images: the interval
        # straddles the threshold.
        INCONCLUSIVE: lambda d: scores_tables(
            d, CK_ACC, (0.1, 0.2, 0.3, 0.4, 0.9, 0.5, 0.45, 0.4), n=2000)})
    for i in range(2)] + [
    (("hessian", 0), {
        HOLDS: lambda d: hessian(d, (5.0, 40.0), (9.0, 80.0)),
        CONTRADICTED: lambda d: hessian(d, (9.0, 80.0), (5.0, 40.0)),
        INCONCLUSIVE: lambda d: hessian(d, (5.0, 40.0), (9.0, 80.0),
                                        status=NOT_MEASURED)})]

# Kendall's τ-b against scipy's (which is τ-b), with and without ties, and
# against the O(n²) definition written out here.
def tau_ref(x, y):
    n, c, d, tx, ty = len(x), 0, 0, 0, 0
    for i in range(n):
        for j in range(i):
            sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            c += sx * sy > 0
            d += sx * sy < 0
            tx += sx == 0
            ty += sy == 0
    n0 = n * (n - 1) / 2
    return (c - d) / math.sqrt((n0 - tx) * (n0 - ty))


rng = np.random.default_rng(3)
worst = 0.0
for size, ties in ((5, False), (13, False), (41, True), (20, True)):
    x = rng.normal(size=size)
    y = x + rng.normal(size=size)
    if ties:
        x, y = np.round(x), np.round(y * 2) / 2
    ours = stats.kendall_tau(list(x), list(y))
    worst = max(worst, abs(ours - scipy.stats.kendalltau(x, y)[0]),
                abs(ours - tau_ref(x, y)))
result(worst < 1e-12, "Kendall's tau-b = scipy's and the definition's, with "
       "and without ties (worst %.2g)" % worst)
result(stats.kendall_tau([1, 2, 3], [3, 2, 1]) == -1 and
       stats.kendall_tau([1, 2, 3], [1, 5, 9]) == 1 and
       math.isnan(stats.kendall_tau([1, 1, 1], [1, 2, 3])),
       "Kendall's tau: -1, 1, and NaN on a constant side")

claims_tested = set()
for (group, i), by_verdict in CASES:
    claim = report.CLAIMS[group][i]
    for want, make in by_verdict.items():
        adir = os.path.join(SCRATCH, "%s-%d-%s" % (group, i, want))
        os.makedirs(adir)
        make(adir)
        rep = report.collect(adir)
        row = next(r for r in rep.rows if r.claim == claim)
        ivs = "; ".join(report.interval_text(p) for p in row.parts)
        result(row.verdict == want, "%s %d: %s (got %s: %s)" % (
            group, i, want, row.verdict, ivs))
        claims_tested.add(claim)
        shutil.rmtree(adir)
adir = os.path.join(SCRATCH, "not-scored")
os.makedirs(adir)
scores_tables(adir, CK_ACC, [None] * len(CK_ACC))
row = next(r for r in report.collect(adir).rows
           if r.claim == report.CLAIMS["scores"][0])
result(row.verdict == INCONCLUSIVE and "did not converge" in row.measured,
       "checkpoints xf-eval did not score: INCONCLUSIVE, with its reason (%s)"
       % row.measured)
shutil.rmtree(adir)
adir = os.path.join(SCRATCH, "hessian-not-measured")
os.makedirs(adir)
hessian(adir, (5.0, 40.0), (9.0, 80.0), status=NOT_MEASURED)
row = next(r for r in report.collect(adir).rows
           if r.claim == report.CLAIMS["hessian"][0])
result(row.verdict == INCONCLUSIVE and "P-T " + NOT_MEASURED in row.measured
       and "RI-T λ₁ 9, trace 80 ± 0.5" in row.measured,
       "an unmeasured Hessian: INCONCLUSIVE, with xf-hessian's reason (%s)"
       % row.measured)
shutil.rmtree(adir)
every = [c for cs in report.CLAIMS.values() for c in cs]
result(sorted(claims_tested) == sorted(every),
       "every claim of report.py has its three cases (%d of %d)" % (
           len(claims_tested), len(every)))

# ---- the report as a whole: counts, columns, missing data ----

adir = os.path.join(SCRATCH, "whole")
os.makedirs(adir)
shuffle(adir, drop=ALL)
mistakes(adir, 0.8, 0.1)
basins(adir, {"ptpt": 0.002, "ritrit": 0.3, "ptrit": 0.3}, reps=1)
rep = report.collect(adir)
md = report.markdown(rep, [])
page = report.html_page(rep, [])
c = rep.counts
result(sum(c.values()) == len(every) and c[report.NOT_RUN] == len(every) - 8,
       "counts by verdict add up to every claim: %s" % c)
line = "**%d hold, %d are contradicted, %d are inconclusive." % (
    c[HOLDS], c[CONTRADICTED], c[INCONCLUSIVE])
result(line in md and line[2:] in page, "the counts open the report")
rows = [l for l in md.splitlines() if l.startswith("| shuffle |")]
result(len(rows) == 4 and all(l.count(" | ") == len(report.HEADERS) - 1 and
                              "[" in l and "(paired t-interval" in l
                              for l in rows),
       "every row has the estimate, the interval, n, the rule and the verdict")
result(re.search(r"\| P-T/P-T barrier: 0(\.[0-9]+)? \(no interval\) \| 1 \(", md),
       "one pair: the estimate without an interval, n = 1")


# A second run's verdicts as a last column, matched by study and claim: a
# second directory where the mistakes claim is contradicted and nothing else
# ran.
adir2 = os.path.join(SCRATCH, "second")
shutil.rmtree(adir2, ignore_errors=True)
os.makedirs(adir2)
mistakes(adir2, 0.1, 0.8)
rep2 = report.collect(adir2)
md2 = report.markdown(rep, [], "T", (rep2, "resnet-8, quick scale"))
page2 = report.html_page(rep, [], "T", (), (rep2, "resnet-8, quick scale"))
want = {(r.study, r.claim): r.verdict for r in rep2.rows}
got = {}
for l in md2.splitlines():
    cols = [x.strip() for x in l.strip("|").split("|")]
    if len(cols) == len(report.HEADERS) + 1 and cols[0] in {r.study for r in rep.rows}:
        got[(cols[0], cols[1])] = (cols[-2], cols[-1])
first = {(r.study, r.claim): r.verdict for r in rep.rows}
result(len(got) == len(rep.rows) and all(
    got[k] == (first[k], want[k]) for k in got) and
    any(v[0] != v[1] for v in got.values()),
       "a second run's verdicts are the last column, claim by claim "
       "(%d rows)" % len(got))
result("<th>verdict, resnet-8, quick scale</th>" in page2 and
       page2.count("<tr>") == len(rep.rows) + 1,
       "and in the HTML page")
# make paper's shuffle on the other pair: its claims as rows of their own,
# right after the chosen pair's, and in the counts.
rep3 = report.with_other_pair(rep, adir, "far")
studies = [r.study for r in rep3.rows]
n_sh = studies.count("shuffle")
result(n_sh > 0 and studies.count("shuffle, far pair") == n_sh and
       studies[n_sh:2 * n_sh] == ["shuffle, far pair"] * n_sh and
       sum(rep3.counts.values()) == len(rep3.rows),
       "the other pair's shuffle claims follow the chosen pair's (%d each)"
       % n_sh)
# The regime section in the HTML page: its heading, table and figure.
lines = ["## Where pretraining helps", "", "![alt](fig/regime.png)", "",
         "**Chosen: the near pair**", "", "| pair | N |", "|---|---|",
         "| near | 100 |", ""]
h = "\n".join(report.regime.html_lines(lines))
result("<h2>Where pretraining helps</h2>" in h and "<img src='fig/regime.png'"
       in h and "<b>Chosen: the near pair</b>" in h and
       "<tr><th>pair</th><th>N</th></tr><tr><td>near</td><td>100</td></tr>"
       in h.replace("\n", ""), "the regime section as HTML")


def refused(adir, want, what):
    """collect(adir) raises a TableError whose message holds want."""
    try:
        report.collect(adir)
        result(False, what + ": accepted")
    except report.TableError as e:
        result(want in str(e), "%s: %s" % (what, e))


with open(os.path.join(adir, "basins.tsv"), "a") as f:
    f.write("ptrit\tabc\t0\t0\t0\n")
refused(adir, "basins.tsv: line 5: barrier: 'abc' is not float",
        "a bad value is an error naming the file, line and column")
write(adir, "basins.tsv", ["pair", "barrier"], [("ptpt", 0.1)])
refused(adir, "basins.tsv: columns pair barrier, want",
        "missing columns are an error naming the file")
basins(adir, {"ptpt": 0.002, "ritrit": 0.3, "ptrit": 0.3}, reps=1)
write(adir, "mistakes.tsv", ["pair", "a", "b", "n", "both_right", "both_wrong",
                             "same_wrong", "only_a_wrong", "only_b_wrong"],
      [("ptpt", "x", "y", 10, 5, 1, 1, 2, 2)])
refused(adir, "mistakes.tsv: no ritrit, ptrit pair",
        "a missing pair is an error naming it")
