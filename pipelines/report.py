#!/usr/bin/python3
"""Write REPORT.md and report.html from the analysis tables.

    report.py ANALYSIS_DIR FIG_DIR OUT_DIR

Every number and every verdict in the findings table comes from the TSV
files of ANALYSIS_DIR, by the rule printed beside it; nothing is typed here
but the claims of papers.md, the rules and their thresholds.  Each claim is
an estimate with a 95% interval (stats.py) and one of three verdicts: HOLDS
(the interval is on the claimed side of the threshold), CONTRADICTED (it is
all on the other side) or INCONCLUSIVE.  A study whose table is missing is
reported as not run.

The three steps are collect() (tables to findings), markdown() and html().
"""
import csv
import html
import math
import os
import sys
from collections import namedtuple

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import stats  # noqa: E402 (pipelines/stats.py)
from stats import HOLDS, CONTRADICTED, INCONCLUSIVE
import regime  # noqa: E402 (pipelines/regime.py: the report's opening)

NOT_RUN = "NOT RUN"

# ---- the tables, read by type ----

# Each table's columns and their types; "*" is the type of any other
# column (the per-example table has one column per model).
SCHEMAS = {
    "shuffle.tsv": {"b": int, "kind": str, "seed": int, "acc": float,
                    "loss": float, "speed_steps": int},
    "mistakes.tsv": {"pair": str, "a": str, "b": str, "n": int,
                     "both_right": int, "both_wrong": int, "same_wrong": int,
                     "only_a_wrong": int, "only_b_wrong": int},
    "mistakes-ex.tsv": {"i": int, "*": int},
    "cka.tsv": {"pair": str, "module": str, "cka": float, "n": int},
    "distance.tsv": {"pair": str, "module": str, "total": float},
    "basins.tsv": {"pair": str, "barrier": float, "barrier_loss": float,
                   "error_min": float, "error_max": float},
    "basins-aligned.tsv": {"kind": str, "seed_a": int, "seed_b": int,
                           "barrier": float, "barrier_aligned": float,
                           "barrier_loss": float,
                           "barrier_loss_aligned": float, "error_mid": float,
                           "error_mid_aligned": float, "ens_error_mid": float,
                           "inner": float, "inner_aligned": float,
                           "moved": int, "units": int},
    "criticality.tsv": {"kind": str, "module": str, "mu": float,
                        "dist": float, "alpha_min": float},
    "checkpoints.tsv": {"pre_step": int, "pre_epoch": int,
                        "upstream_acc": float, "downstream_acc": float,
                        "n": int},
    "yosinski.tsv": {"kind": str, "n": int, "seed": int, "acc": float},
    "landscape.tsv": {"measure": str, "seed": int, "pt": float, "rit": float},
    "similarity.tsv": {"measure": str, "pair": str, "module": str,
                       "value": float, "n": int, "dims_a": int, "dims_b": int},
    "checkpoint-scores.tsv": {"pre_step": int, "pre_epoch": int, "score": str,
                              "value": float, "n": int, "features": int,
                              "status": str},
    "hessian.tsv": {"kind": str, "quantity": str, "index": int,
                    "value": float, "error": float, "steps": int,
                    "status": str},
}


class TableError(Exception):
    pass


def read_table(adir, name):
    """The rows of analysis table NAME as dicts of typed values, or None
    when the study did not run.  A column the schema does not know, a
    missing one or a value of the wrong type is an error naming the file,
    the line and the column."""
    path = os.path.join(adir, name)
    if not os.path.exists(path):
        return None
    schema = SCHEMAS[name]
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        cols = reader.fieldnames or []
        missing = [c for c in schema if c != "*" and c not in cols]
        extra = [c for c in cols if c not in schema and "*" not in schema]
        if missing or extra:
            raise TableError("%s: columns %s, want %s" % (
                path, " ".join(cols), " ".join(c for c in schema if c != "*")))
        rows = []
        for line, r in enumerate(reader, start=2):
            row = {}
            for c, v in r.items():
                kind = schema.get(c, schema.get("*"))
                try:
                    row[c] = kind(v)
                except (TypeError, ValueError):
                    raise TableError("%s: line %d: %s: %r is not %s" % (
                        path, line, c, v, kind.__name__)) from None
            rows.append(row)
    return rows


# ---- the claims and the findings ----

# The claims of papers.md, per study, in the report's order: a study that
# did not run shows the same rows as NOT RUN.
CLAIMS = {
    "shuffle": (
        "Smaller blocks destroy visual features: accuracy of both P-T and "
        "RI-T falls",
        "P-T still beats RI-T at the smallest block size: part of the "
        "benefit is low-level statistics",
        "The relative gap (A(P-T) − A(RI-T)) / A(P-T) shrinks as blocks "
        "shrink",
        "P-T's training speed barely changes with shuffling, RI-T's drops "
        "sharply"),
    "mistakes": (
        "Two P-T instances share more of their mistakes than P-T and RI-T",
        "RI-T gets right some examples that P-T gets wrong"),
    "cka": (
        "Feature similarity (linear CKA, mean over modules): P-T/P-T high; "
        "RI-T/RI-T and P-T/RI-T low",),
    "distance": (
        "ℓ2 distance in parameter space: small between two P-T, large "
        "between two RI-T",),
    "basins": (
        "Two P-T solutions lie in one basin: no error barrier on the line "
        "between them",
        "Two RI-T solutions are separated by a barrier, larger than "
        "P-T/P-T's"),
    "aligned": (
        "RI-T/RI-T's barrier falls after permutation alignment (weight "
        "matching, xf-align): the barrier of the paper's §5 is partly "
        "permutation symmetry",),
    "criticality": (
        "Higher modules are more critical than lower ones (P-T)",
        "RI-T valleys show a transition point: the initial weights are "
        "infeasible and the error drops below ε only past some α"),
    "checkpoints": (
        "Downstream accuracy stops improving well before the end of "
        "pretraining",),
    "yosinski": (
        "BnB dips for middle n: fragile co-adaptation",
        "AnB falls as n grows: higher layers are specific",
        "AnB+ beats baseB: transfer plus fine-tuning generalises better",
        "Random frozen features are worse than transferred ones at every n",
        "A dissimilar source (Fashion-MNIST → digits) transfers worse than "
        "a similar one at high n"),
    "landscape": (
        "P-T stays closer to its starting weights than RI-T",
        "P-T's gradient norm during fine-tuning is smaller",
        "P-T sits in a flatter minimum along random directions"),
    # Issue 14's measures; similarity_measures must stay in the order of
    # SIM_MEASURES below.
    "similarity_measures": (
        "Feature similarity by SVCCA (mean over modules): P-T/P-T high; "
        "RI-T/RI-T and P-T/RI-T low",
        "Feature similarity by PWCCA (mean over modules): P-T/P-T high; "
        "RI-T/RI-T and P-T/RI-T low",
        "Feature similarity by Procrustes distance (mean over modules): "
        "P-T/P-T close; RI-T/RI-T and P-T/RI-T farther apart"),
    "scores": (
        "LogME picks a checkpoint as good as fine-tuning every one",
        "LEEP picks a checkpoint as good as fine-tuning every one"),
    "hessian": (
        "P-T sits in a flatter minimum by the Hessian: smaller top "
        "eigenvalue and smaller trace (Liu et al.)",),
}
# The study column of each claim group.
STUDY_OF = {"cka": "similarity", "distance": "similarity",
            "aligned": "basins", "similarity_measures": "similarity",
            "scores": "checkpoints", "hessian": "landscape"}
KIND_NAMES = {"pt": "P-T", "rit": "RI-T"}

# Thresholds, each with its reason, fixed before the runs and not tuned to
# them.  A directional claim ("falls", "beats", "smaller") has threshold 0:
# any effect in the claimed direction is the claim.
DIRECTION = "threshold 0: the claim is a direction"
BARRIER = 0.01
BARRIER_WHY = ("threshold 0.01 (1 point of test error): the value this "
               "rule has had since the first report; a rise on the line "
               "smaller than a point of error is read as no barrier")
PLATEAU = 0.01
PLATEAU_WHY = ("threshold 0.01 (1 point of target accuracy): gains under a "
               "point are read as no improvement, the tolerance the rule "
               "had before intervals")
MAJORITY = 0.5
MAJORITY_WHY = "threshold 0.5: the claim is about most modules"

# One part of a claim: an interval, the side the claim puts it on, and the
# verdict on that part; a Finding is one row of the report.
Part = namedtuple("Part", "label iv verdict")
Finding = namedtuple("Finding", "study claim measured parts rule verdict")


def part(label, iv, above=0.0, below=None):
    return Part(label, iv, stats.verdict(iv, above, below))


def mean(xs):
    return sum(xs) / len(xs) if xs else math.nan


class Findings:
    def __init__(self):
        self.rows = []

    def add(self, group, i, measured, parts, rule, combine=stats.all_of):
        """Claim i of CLAIMS[group]: what was measured, the parts of its
        test, and how their verdicts combine (all_of or any_of)."""
        self.rows.append(Finding(STUDY_OF.get(group, group),
                                 CLAIMS[group][i], measured, parts, rule,
                                 combine([p.verdict for p in parts])))

    def not_run(self, group):
        for claim in CLAIMS[group]:
            self.rows.append(Finding(STUDY_OF.get(group, group), claim, "—",
                                     [], "", NOT_RUN))


def by_seed(t, key, **match):
    """{seed: row[key]} over the rows of t whose fields equal match."""
    return {r["seed"]: r[key] for r in t
            if all(r[k] == v for k, v in match.items())}


def shuffle_findings(f, t):
    if t is None:
        return f.not_run("shuffle")
    blocks = sorted({r["b"] for r in t}, reverse=True)
    big, small = blocks[0], blocks[-1]

    def acc(kind, b):
        return by_seed(t, "acc", kind=kind, b=b)

    def pct(kind, b):
        return "%.1f%%" % (100 * mean(list(acc(kind, b).values())))

    f.add("shuffle", 0,
          "mean acc. P-T b=%d %s → b=%d %s; RI-T %s → %s" % (
              big, pct("pt", big), small, pct("pt", small), pct("rit", big),
              pct("rit", small)),
          [part("P-T", stats.paired(acc("pt", big), acc("pt", small))),
           part("RI-T", stats.paired(acc("rit", big), acc("rit", small)))],
          "acc(b=%d) − acc(b=%d) > 0 for P-T and for RI-T, each a paired "
          "t-interval over seeds; %s" % (big, small, DIRECTION))
    f.add("shuffle", 1,
          "b=%d: P-T %s, RI-T %s" % (small, pct("pt", small), pct("rit", small)),
          [part("P-T − RI-T", stats.paired(acc("pt", small), acc("rit", small)))],
          "acc(P-T) − acc(RI-T) > 0 at b=%d, paired t-interval over seeds "
          "(same seed, same b); %s" % (small, DIRECTION))

    def gaps(b):
        pt, rit = acc("pt", b), acc("rit", b)
        return {s: (pt[s] - rit[s]) / pt[s] for s in pt if s in rit and pt[s] > 0}
    f.add("shuffle", 2,
          ", ".join("b=%d: %.3f" % (b, mean(list(gaps(b).values())))
                    for b in blocks),
          [part("gap b=%d − b=%d" % (big, small),
                stats.paired(gaps(big), gaps(small)))],
          "relative gap at b=%d − at b=%d > 0, per seed, paired t-interval; "
          "%s" % (big, small, DIRECTION))

    def slowdown(kind):
        a = by_seed(t, "speed_steps", kind=kind, b=big)
        z = by_seed(t, "speed_steps", kind=kind, b=small)
        return {s: z[s] / max(a[s], 1) for s in a if s in z}

    def steps(kind, b):
        return mean(list(by_seed(t, "speed_steps", kind=kind, b=b).values()))
    f.add("shuffle", 3,
          "steps to %s of final: P-T %.0f → %.0f (×%.2f), RI-T %.0f → %.0f "
          "(×%.2f)" % ("90%", steps("pt", big), steps("pt", small),
                       mean(list(slowdown("pt").values())), steps("rit", big),
                       steps("rit", small),
                       mean(list(slowdown("rit").values()))),
          [part("RI-T − P-T slow-down",
                stats.paired(slowdown("rit"), slowdown("pt")))],
          "slow-down factor steps(b=%d) / steps(b=%d), RI-T's − P-T's > 0, "
          "paired over seeds; %s" % (small, big, DIRECTION))


def jaccard(a, b):
    """Common mistakes / all mistakes of two 0/1 'wrong' columns."""
    union = np.sum(a | b)
    return np.sum(a & b) / union if union else math.nan


def mistakes_findings(f, t, ex):
    if t is None:
        return f.not_run("mistakes")
    by = {r["pair"]: r for r in t}
    missing = [p for p in ("ptpt", "ritrit", "ptrit") if p not in by]
    if missing:
        raise TableError("mistakes.tsv: no %s pair" % ", ".join(missing))

    def share(r):
        union = r["both_wrong"] + r["only_a_wrong"] + r["only_b_wrong"]
        return r["both_wrong"] / union if union else math.nan

    def column(name):
        return np.array([r[name] for r in ex], dtype=bool)
    pp, pr = by["ptpt"], by["ptrit"]
    how = ("bootstrap over test examples" if ex else
           "no per-example table mistakes-ex.tsv: no interval")
    if ex:
        cols = [column(pp["a"]), column(pp["b"]), column(pr["a"]),
                column(pr["b"])]
        d = stats.bootstrap(lambda a, b, c, e: jaccard(a, b) - jaccard(c, e),
                            cols, how)
        only = stats.bootstrap(lambda c, e: np.mean(c & ~e), cols[2:], how)
    else:
        d = stats.none(share(pp) - share(pr), 1, how)
        only = stats.none(pr["only_a_wrong"] / pr["n"], 1, how)
    f.add("mistakes", 0,
          "common / all mistakes: P-T/P-T %.3f, RI-T/RI-T %.3f, P-T/RI-T %.3f"
          % (share(pp), share(by["ritrit"]), share(pr)),
          [part("share P-T/P-T − P-T/RI-T", d)],
          "share of common mistakes, P-T/P-T − P-T/RI-T > 0, %d-resample "
          "bootstrap over test examples (seeded); %s" % (
              stats.BOOTSTRAP_RESAMPLES, DIRECTION))
    f.add("mistakes", 1,
          "P-T wrong and RI-T right: %d of %d" % (pr["only_a_wrong"], pr["n"]),
          [part("share of examples", only)],
          "share of test examples P-T gets wrong and RI-T right > 0, "
          "bootstrap over test examples; %s" % DIRECTION)


def pair_values(t, key, pair, module=None):
    """The values of key for one pair kind: one per replicate pair (a table
    may hold several pairs of a kind, as PAIR.k; the demo holds one)."""
    out = {}
    for r in t:
        name, _, rep = r["pair"].partition(".")
        if name == pair and (module is None or r["module"] == module):
            out.setdefault(rep or "1", []).append(r[key])
    return {rep: mean(v) for rep, v in out.items()}


def over_pairs(a, b):
    """mean(a) − mean(b) over replicate pairs, a Welch interval: none from
    one pair each."""
    return stats.welch(list(a.values()), list(b.values()),
                       "Welch t-interval over replicate pairs")


def similarity_findings(f, cka, dist):
    if cka is None:
        f.not_run("cka")
    else:
        mc = {p: pair_values(cka, "cka", p) for p in
              ("ptpt", "ritrit", "ptrit", "ppt")}
        f.add("cka", 0,
              "mean CKA P-T/P-T %.3f, RI-T/RI-T %.3f, P-T/RI-T %.3f, P/P-T %.3f"
              % tuple(mean(list(mc[p].values())) for p in
                      ("ptpt", "ritrit", "ptrit", "ppt")),
              [part("P-T/P-T − RI-T/RI-T", over_pairs(mc["ptpt"], mc["ritrit"])),
               part("P-T/P-T − P-T/RI-T", over_pairs(mc["ptpt"], mc["ptrit"]))],
              "mean-over-modules CKA of P-T/P-T above both others, over "
              "replicate pairs (one pair gives no interval); %s" % DIRECTION)
    if dist is None:
        f.not_run("distance")
    else:
        d = {p: pair_values(dist, "total", p, "total") for p in
             ("ptpt", "ritrit", "ptrit", "ppt")}
        f.add("distance", 0,
              "P-T/P-T %.3g, RI-T/RI-T %.3g, P-T/RI-T %.3g, P/P-T %.3g"
              % tuple(mean(list(d[p].values())) for p in
                      ("ptpt", "ritrit", "ptrit", "ppt")),
              [part("RI-T/RI-T − P-T/P-T", over_pairs(d["ritrit"], d["ptpt"]))],
              "‖θ₁−θ₂‖ of RI-T/RI-T − P-T/P-T > 0, over replicate pairs; %s"
              % DIRECTION)


def basin_findings(f, t):
    if t is None:
        return f.not_run("basins")
    b = {p: pair_values(t, "barrier", p) for p in ("ptpt", "ritrit", "ptrit")}
    one = lambda p: stats.mean_interval(list(b[p].values()),
                                        "t-interval over replicate pairs")
    f.add("basins", 0,
          "barrier (error) P-T/P-T %.4f" % mean(list(b["ptpt"].values())),
          [part("P-T/P-T barrier", one("ptpt"), below=BARRIER)],
          "barrier of P-T/P-T < %g; %s" % (BARRIER, BARRIER_WHY))
    f.add("basins", 1,
          "barrier RI-T/RI-T %.4f, P-T/RI-T %.4f" % (
              mean(list(b["ritrit"].values())), mean(list(b["ptrit"].values()))),
          [part("RI-T/RI-T barrier", one("ritrit"), above=BARRIER),
           part("RI-T/RI-T − P-T/P-T", over_pairs(b["ritrit"], b["ptpt"]))],
          "barrier of RI-T/RI-T > %g and above P-T/P-T's (%s for the "
          "second)" % (BARRIER, DIRECTION))


def aligned_findings(f, t):
    rit = [r for r in (t or []) if r["kind"] == "rit"]
    if not rit:
        return f.not_run("aligned")
    pt = [r for r in t if r["kind"] == "pt"]
    drop = stats.mean_interval([r["barrier"] - r["barrier_aligned"]
                                for r in rit], "t-interval over RI-T pairs")
    f.add("aligned", 0,
          "RI-T/RI-T barrier %.4f → %.4f aligned (ensemble error at λ=½ "
          "%.4f); P-T/P-T %s" % (
              mean([r["barrier"] for r in rit]),
              mean([r["barrier_aligned"] for r in rit]),
              mean([r["ens_error_mid"] for r in rit]),
              "%.4f → %.4f" % (mean([r["barrier"] for r in pt]),
                               mean([r["barrier_aligned"] for r in pt]))
              if pt else "not run"),
          [part("RI-T/RI-T barrier − aligned barrier", drop, above=BARRIER)],
          "the drop of the RI-T/RI-T barrier under alignment > %g, over "
          "pairs; %s" % (BARRIER, BARRIER_WHY))


def criticality_findings(f, t):
    if t is None:
        return f.not_run("criticality")
    pt = [r for r in t if r["kind"] == "pt"]
    half = len(pt) // 2
    lg = [math.log10(1 + r["mu"]) for r in pt]
    f.add("criticality", 0,
          "μ per module (P-T): " + ", ".join("%s %.3g" % (r["module"], r["mu"])
                                             for r in pt),
          [part("upper − lower half", stats.welch(
              lg[half:], lg[:half], "Welch t-interval over the modules"))],
          "mean log10(1+μ) of the upper half of modules − the lower half's "
          "> 0, modules of one run as the units; %s" % DIRECTION)
    rit = [r for r in t if r["kind"] == "rit"]
    trans = [r for r in rit if not math.isnan(r["alpha_min"])
             and r["alpha_min"] > 0]
    f.add("criticality", 1,
          "smallest feasible α at the smallest σ (RI-T): " + ", ".join(
              "%s %s" % (r["module"], "none" if math.isnan(r["alpha_min"])
                         else "%.2g" % r["alpha_min"]) for r in rit),
          [part("share of modules", stats.wilson(
              len(trans), len(rit), "Wilson interval over the modules"),
              above=MAJORITY)],
          "share of RI-T modules with an infeasible α = 0 and a feasible "
          "α > 0 above %g; %s" % (MAJORITY, MAJORITY_WHY))


def checkpoint_findings(f, t):
    if t is None:
        return f.not_run("checkpoints")
    final = t[-1]
    mid = min(t, key=lambda r: abs(r["pre_step"] - final["pre_step"] / 2))
    best = max(r["downstream_acc"] for r in t)

    def hits(r):
        return round(r["downstream_acc"] * r["n"])
    f.add("checkpoints", 0,
          "downstream %.1f%% from step %d, %.1f%% from the last (%d); best "
          "%.1f%%" % (100 * mid["downstream_acc"], mid["pre_step"],
                      100 * final["downstream_acc"], final["pre_step"],
                      100 * best),
          [part("last − midway", stats.two_proportions(
              hits(final), final["n"], hits(mid), mid["n"],
              "two-proportion interval over test examples"), below=PLATEAU)],
          "accuracy from the last checkpoint − from the one midway through "
          "pretraining < %g; %s" % (PLATEAU, PLATEAU_WHY))


def yosinski_findings(f, t):
    if t is None:
        return f.not_run("yosinski")

    def acc(kind, n=None):
        """{seed: accuracy}, over n (the mean) when n is None."""
        out = {}
        for r in t:
            if r["kind"] == kind and (n is None or r["n"] == n):
                out.setdefault(r["seed"], []).append(r["acc"])
        return {s: mean(v) for s, v in out.items()}

    def shown(kind, n=None):
        return "%.3f" % mean(list(acc(kind, n).values()))
    ns = sorted({r["n"] for r in t if r["n"] > 0})
    mid = ns[1:-1] or ns
    rule = "paired t-interval over seeds; " + DIRECTION
    f.add("yosinski", 0, "baseB %s; BnB: " % shown("baseB") + ", ".join(
        "n%d %s" % (n, shown("BnB", n)) for n in ns),
        [part("baseB − BnB n%d" % n, stats.paired(acc("baseB"), acc("BnB", n)))
         for n in mid],
        "baseB − BnB > 0 at some middle n, " + rule, stats.any_of)
    f.add("yosinski", 1, "AnB: " + ", ".join(
        "n%d %s" % (n, shown("AnB", n)) for n in ns),
        [part("AnB n%d − n%d" % (ns[0], ns[-1]),
              stats.paired(acc("AnB", ns[0]), acc("AnB", ns[-1])))],
        "AnB at n=%d − at n=%d > 0, %s" % (ns[0], ns[-1], rule))
    f.add("yosinski", 2, "baseB %s; AnB+ over all n %s" % (
        shown("baseB"), shown("AnB+")),
        [part("AnB+ − baseB", stats.paired(acc("AnB+"), acc("baseB")))],
        "AnB+ (mean over n, per seed) − baseB > 0, " + rule)
    f.add("yosinski", 3, ", ".join(
        "n%d rand %s / AnB %s" % (n, shown("rand", n), shown("AnB", n))
        for n in ns),
        [part("AnB − rand n%d" % n, stats.paired(acc("AnB", n), acc("rand", n)))
         for n in ns],
        "AnB − random frozen > 0 at every n, " + rule)
    f.add("yosinski", 4, "at n=%d: dissimilar %s, AnB %s" % (
        ns[-1], shown("dis", ns[-1]), shown("AnB", ns[-1])),
        [part("AnB − dis n%d" % ns[-1],
              stats.paired(acc("AnB", ns[-1]), acc("dis", ns[-1])))],
        "AnB − dissimilar-source accuracy > 0 at the largest n, " + rule)


def landscape_findings(f, t):
    if t is None:
        return f.not_run("landscape")
    for i, key in enumerate(("distance", "grad_norm", "sharpness")):
        rows = [r for r in t if r["measure"] == key]
        pt = {r["seed"]: r["pt"] for r in rows}
        rit = {r["seed"]: r["rit"] for r in rows}
        f.add("landscape", i, "P-T %.4g, RI-T %.4g" % (
            mean(list(pt.values())), mean(list(rit.values()))),
            [part("RI-T − P-T", stats.paired(rit, pt))],
            "RI-T's %s − P-T's > 0, paired t-interval over seeds at b = 28; "
            "%s" % (key, DIRECTION))


# ---- issue 14's measures: SVCCA, PWCCA, Procrustes; scores; the Hessian ----

# The measures of similarity.tsv, in the order of CLAIMS["similarity_measures"],
# and whether each is a distance (lower is more similar).
SIM_MEASURES = (("svcca", "SVCCA", False), ("pwcca", "PWCCA", False),
                ("procrustes", "Procrustes distance", True))


def measure_findings(f, t):
    """The CKA claim on each other measure, one row per measure: P-T/P-T
    above RI-T/RI-T and above P-T/RI-T (below both, for the Procrustes
    distance), over replicate pairs as for CKA."""
    if t is None:
        return f.not_run("similarity_measures")
    for i, (key, name, distance) in enumerate(SIM_MEASURES):
        rows = [r for r in t if r["measure"] == key]
        if not rows:
            raise TableError("similarity.tsv: no %s rows" % key)
        mv = {p: pair_values(rows, "value", p) for p in
              ("ptpt", "ritrit", "ptrit", "ppt")}
        if distance:
            parts = [part("RI-T/RI-T − P-T/P-T", over_pairs(mv["ritrit"], mv["ptpt"])),
                     part("P-T/RI-T − P-T/P-T", over_pairs(mv["ptrit"], mv["ptpt"]))]
            rule = ("mean-over-modules Procrustes distance of P-T/P-T below "
                    "both others (a distance: the direction of CKA's rule "
                    "reversed), over replicate pairs (one pair gives no "
                    "interval); %s" % DIRECTION)
        else:
            parts = [part("P-T/P-T − RI-T/RI-T", over_pairs(mv["ptpt"], mv["ritrit"])),
                     part("P-T/P-T − P-T/RI-T", over_pairs(mv["ptpt"], mv["ptrit"]))]
            rule = ("mean-over-modules %s of P-T/P-T above both others, over "
                    "replicate pairs (one pair gives no interval); %s" % (
                        name, DIRECTION))
        f.add("similarity_measures", i,
              "mean %s P-T/P-T %.3f, RI-T/RI-T %.3f, P-T/RI-T %.3f, P/P-T %.3f"
              % ((name,) + tuple(mean(list(mv[p].values())) for p in
                                 ("ptpt", "ritrit", "ptrit", "ppt"))),
              parts, rule)


PICK_WITHIN = 0.01
PICK_WHY = ("threshold 0.01 (1 point of target accuracy): the checkpoint "
            "study's plateau tolerance, gains under a point read as none; "
            "fixed before any score was computed")
SCORE_NAMES = (("logme", "LogME"), ("leep", "LEEP"))


def score_findings(f, scores, ckpts):
    """Per score: Kendall's τ between the score and the fine-tuned
    accuracy over the checkpoints, and the claim that the checkpoint the
    score ranks first fine-tunes to within PICK_WITHIN of the best one."""
    if scores is None or ckpts is None:
        return f.not_run("scores")
    down = {r["pre_step"]: r for r in ckpts}
    best = max(ckpts, key=lambda r: (r["downstream_acc"], -r["pre_step"]))

    def hits(r):
        return round(r["downstream_acc"] * r["n"])
    for i, (key, name) in enumerate(SCORE_NAMES):
        mine = [r for r in scores if r["score"] == key and r["pre_step"] in down]
        rows = [r for r in mine if r["status"] == "scored"]
        why = sorted({r["status"] for r in mine if r["status"] != "scored"})
        if not rows:
            f.add("scores", i, "no %s score of the fine-tuned checkpoints%s"
                  % (name, ": " + "; ".join(why) if why else ""),
                  [part("best − picked", stats.none(math.nan, 0, "not scored"),
                        below=PICK_WITHIN)],
                  "fine-tuned accuracy of the best checkpoint − of the one %s "
                  "ranks first < %g; without scores, INCONCLUSIVE" % (
                      name, PICK_WITHIN))
            continue
        tau = stats.kendall_tau([r["value"] for r in rows],
                                [down[r["pre_step"]]["downstream_acc"] for r in rows])
        # The first of equal scores: the earliest checkpoint.
        pick = max(rows, key=lambda r: (r["value"], -r["pre_step"]))
        chosen = down[pick["pre_step"]]
        gap = stats.two_proportions(hits(best), best["n"], hits(chosen),
                                    chosen["n"],
                                    "two-proportion interval over test examples")
        f.add("scores", i,
              "Kendall's τ(%s, fine-tuned accuracy) = %s over %d checkpoints; "
              "%s picks step %d (fine-tuned %.1f%%), the best is step %d "
              "(%.1f%%)" % (name, number(tau), len(rows), name,
                            pick["pre_step"], 100 * chosen["downstream_acc"],
                            best["pre_step"], 100 * best["downstream_acc"]),
              [part("best − picked", gap, below=PICK_WITHIN)],
              "fine-tuned accuracy of the best checkpoint − of the one %s "
              "ranks first < %g; the best is the maximum over the series, "
              "so the estimate leans against the claim; %s" % (
                  name, PICK_WITHIN, PICK_WHY))


def hessian_findings(f, t):
    """Liu et al.'s flatness by the Hessian of P-T and RI-T (seed S1,
    b = 28): RI-T's top eigenvalue and trace − P-T's > 0.  One pair of
    runs: the intervals are the numerical error only (the Lanczos residual
    bounds, added; the trace's standard errors, in quadrature), not the
    seed-to-seed spread.  A model xf-hessian did not measure makes both
    parts INCONCLUSIVE, with its reason."""
    if t is None:
        return f.not_run("hessian")
    z = 1.959963984540054
    missing = ["%s %s" % (KIND_NAMES[r["kind"]], r["status"]) for r in t
               if r["status"] != "measured"]

    def get(kind, quantity):
        for r in t:
            if r["kind"] == kind and r["quantity"] == quantity and \
                    r["status"] == "measured" and \
                    (quantity == "trace" or r["index"] == 1):
                return r
        return None
    parts, shown = [], []
    for quantity, label, how in (
            ("eigenvalue", "top eigenvalue RI-T − P-T",
             "one pair of runs; Lanczos residual bounds"),
            ("trace", "trace RI-T − P-T",
             "one pair of runs; Hutchinson standard errors, normal")):
        p, r = get("pt", quantity), get("rit", quantity)
        if p is None or r is None:
            parts.append(part(label, stats.none(math.nan, 0, "not measured")))
            continue
        d = r["value"] - p["value"]
        h = (p["error"] + r["error"]) if quantity == "eigenvalue" else \
            z * math.sqrt(p["error"] ** 2 + r["error"] ** 2)
        parts.append(part(label, stats.Interval(d, d - h, d + h, 1, how)))
    for kind in ("pt", "rit"):
        lam, tr = get(kind, "eigenvalue"), get(kind, "trace")
        if lam or tr:
            shown.append("%s λ₁ %s, trace %s" % (
                KIND_NAMES[kind], "%.4g" % lam["value"] if lam else "—",
                "%.4g ± %.2g (SE)" % (tr["value"], tr["error"]) if tr else "—"))
    f.add("hessian", 0, "; ".join(shown + missing) or "—", parts,
          "RI-T's top Hessian eigenvalue and trace − P-T's > 0, each; on "
          "one pair of runs (seed 1, b = 28) the interval is the numerical "
          "error only, not the spread over seeds; a model xf-hessian did not "
          "measure leaves its part without an interval (INCONCLUSIVE); %s"
          % DIRECTION)


STUCK_BELOW = 0.3


def stuck_runs(tables):
    """The training runs whose final test accuracy is below STUCK_BELOW
    (chance is 0.1 on the digits, 0.2 on a five-class half): runs that never
    left the initial plateau.  The random-frozen control is left out: a
    head on frozen random layers is expected to be poor.  Returns (stuck
    names, number of runs looked at)."""
    runs = []
    for r in tables["shuffle.tsv"] or []:
        runs.append(("shuffle b=%s %s seed %s" % (
            r["b"], KIND_NAMES[r["kind"]], r["seed"]), r["acc"]))
    for r in tables["yosinski.tsv"] or []:
        if r["kind"] == "rand":
            continue
        runs.append(("yosinski %s%s seed %s" % (
            r["kind"], "" if r["n"] == 0 else " n=%s" % r["n"], r["seed"]), r["acc"]))
    for r in tables["checkpoints.tsv"] or []:
        runs.append(("checkpoints step %s" % r["pre_step"], r["downstream_acc"]))
    return ["%s (%.3f)" % (n, a) for n, a in runs if a < STUCK_BELOW], len(runs)


# ---- collect: the tables to what the report says ----

FIGURES = [
    ("shuffle-acc.png", "Final target accuracy against block size b, P-T and "
     "RI-T: the mean over seeds, with bars from the lowest to the highest "
     "seed."),
    ("curves.png", "Learning curves (validation accuracy against step) at "
     "b = 28 and at the smallest b."),
    ("cka.png", "Linear CKA, SVCCA, PWCCA and the Procrustes distance "
     "(lower is more similar) per module for the four pairs."),
    ("interp.png", "Error along the line between two solutions (λ = 0 and 1 "
     "are the endpoints)."),
    ("interp-aligned.png", "Error along the line before and after B is "
     "permuted to match A (xf-align, weight matching), for P-T and RI-T "
     "pairs, with the error of the endpoints' output ensemble."),
    ("critic-pt.png", "Criticality heatmap of P-T: mean error over (α, σ) per "
     "module, on a log colour scale; white circles mark the feasible cells "
     "(mean error ≤ ε).  The valley of feasible cells narrows from conv1 to "
     "fc1 and fc2 when higher modules are more critical."),
    ("critic-rit.png", "The same for RI-T."),
    ("checkpoints.png", "Downstream accuracy against pretraining step and "
     "against upstream accuracy; each transferability score (LogME, LEEP) of "
     "the checkpoints on the target's training data against the step, with "
     "the fine-tuned accuracy on the right axis."),
    ("yosinski.png", "Yosinski's plot: accuracy on B against the number of "
     "copied layers n; lines are means over seeds, dots are the seeds' runs "
     "(the dissimilar pair is tested on the digits)."),
    ("landscape.png", "Loss along a random filter-normalised direction "
     "around P-T and RI-T."),
]

DEFINITIONS = [
    "Training speed: the first step at which a run's validation "
    "accuracy reaches 90% of its own final validation accuracy.",
    "Barrier: max over λ of error(θ(λ)) − ((1−λ)·error(θ₁) + "
    "λ·error(θ₂)), with θ(λ) = (1−λ)θ₁ + λθ₂.",
    "Common mistakes: examples both models get wrong; share = "
    "common / (common + only-A + only-B).",
    "μ (criticality): min over feasible (α, σ) of "
    "α²‖θᶠ−θ⁰‖²/σ² for one module; (α, σ) is feasible when the mean "
    "error over the noise draws is at most ε = CRIT_EPS × the final "
    "model's error (CRIT_EPS is in the provenance below); σ is "
    "relative to the module's RMS weight.",
    "Landscape (b = 28): distance is ‖θ − θ⁰‖ at the end of fine-tuning "
    "and grad_norm the mean gradient norm over the logged steps, for every "
    "seed; sharpness (seed 1 only) is the mean rise of the test loss from "
    "t = 0 to t = ±1 along one random filter-normalised direction.",
    "Intervals: two-sided 95%%.  Over seeds, Student's t with n − 1 degrees "
    "of freedom on the per-seed differences where runs pair up (same seed, "
    "same b), Welch's otherwise; over test examples, a percentile bootstrap "
    "of %d resamples with a fixed seed; for a proportion over modules, "
    "Wilson's.  n is the number of units the interval rests on; one unit "
    "gives no interval." % stats.BOOTSTRAP_RESAMPLES,
    "Verdicts: HOLDS when the interval lies entirely on the claimed side of "
    "the rule's threshold, CONTRADICTED when it lies entirely on the other "
    "side, INCONCLUSIVE otherwise (or without an interval).  A claim with "
    "several parts holds when every part holds (\"some middle n\": when "
    "one does) and is contradicted when one part is (all parts are).",
]

Report = namedtuple("Report", "rows counts stuck_text provenance")


def collect(adir):
    """Read every table of adir and judge every claim."""
    tables = {name: read_table(adir, name) for name in SCHEMAS}
    f = Findings()
    shuffle_findings(f, tables["shuffle.tsv"])
    mistakes_findings(f, tables["mistakes.tsv"], tables["mistakes-ex.tsv"])
    similarity_findings(f, tables["cka.tsv"], tables["distance.tsv"])
    measure_findings(f, tables["similarity.tsv"])
    basin_findings(f, tables["basins.tsv"])
    aligned_findings(f, tables["basins-aligned.tsv"])
    criticality_findings(f, tables["criticality.tsv"])
    checkpoint_findings(f, tables["checkpoints.tsv"])
    score_findings(f, tables["checkpoint-scores.tsv"], tables["checkpoints.tsv"])
    yosinski_findings(f, tables["yosinski.tsv"])
    landscape_findings(f, tables["landscape.tsv"])
    hessian_findings(f, tables["hessian.tsv"])
    counts = {v: sum(1 for r in f.rows if r.verdict == v)
              for v in stats.VERDICTS + (NOT_RUN,)}

    stuck, n_runs = stuck_runs(tables)
    if stuck:
        stuck_text = ("%d of the %d training runs (random-frozen controls "
                      "left out) ended below %d%% test accuracy, never "
                      "leaving the plateau near chance they start on: %s.  "
                      "They are kept in every mean and interval above, "
                      "where they widen the interval." % (
                          len(stuck), n_runs, 100 * STUCK_BELOW,
                          "; ".join(stuck)))
    else:
        stuck_text = ("All %d training runs (random-frozen controls left "
                      "out) ended above %d%% test accuracy."
                      % (n_runs, 100 * STUCK_BELOW))
    pfile = os.path.join(adir, "provenance.txt")
    prov = open(pfile).read() if os.path.exists(pfile) else ""
    return Report(f.rows, counts, stuck_text, prov)


def summary(rep):
    c = rep.counts
    s = "%d hold, %d are contradicted, %d are inconclusive." % (
        c[HOLDS], c[CONTRADICTED], c[INCONCLUSIVE])
    if c[NOT_RUN]:
        s += (" %d were not run here: their studies are not in STUDIES "
              "(make paper runs all eight)." % c[NOT_RUN])
    return s


def number(x):
    return "—" if math.isnan(x) else "%.3g" % x


def interval_text(p):
    iv = p.iv
    if math.isnan(iv.lo):
        return "%s: %s (no interval)" % (p.label, number(iv.est))
    return "%s: %s [%s, %s]" % (p.label, number(iv.est), number(iv.lo),
                                number(iv.hi))


def cells(r):
    """The report's columns of one finding, as text."""
    est = "; ".join(interval_text(p) for p in r.parts) or "—"
    n = "; ".join(sorted({"%d (%s)" % (p.iv.n, p.iv.how) for p in r.parts})) or "—"
    return [r.study, r.claim, r.measured, est, n, r.rule, r.verdict]


HEADERS = ["study", "claim (papers.md)", "measured here",
           "estimate [95% interval]", "n", "rule", "verdict"]
PAIR_TITLES = {"far": "Fashion-MNIST → MNIST digits",
               "near": "Fashion-MNIST classes A → classes B"}


def title(adir):
    """The report's title: the pair and size the studies ran on, the regime
    rule's choice where there is one (the far pair at config.mk's N_TARGET
    when not)."""
    if os.path.exists(os.path.join(adir, "regime-choice.mk")):
        c = regime.read_choice(adir)
        return "What is being transferred? %s, N_TARGET = %s (the %s pair)" % (
            PAIR_TITLES.get(c["REGIME_PAIR"], c["REGIME_PAIR"]),
            c["REGIME_N_TARGET"], c["REGIME_PAIR"])
    return "What is being transferred? " + PAIR_TITLES["far"]


def compare_column(rep, alt, label):
    """Rows of rep with the verdict of the same claim in report alt (another
    run, e.g. ARCH=resnet-8) as an extra column, matched by study and
    claim."""
    other = {(r.study, r.claim): r.verdict for r in alt.rows}
    return [cells(r) + [other.get((r.study, r.claim), "—")] for r in rep.rows]


def figures(fdir, odir):
    return [(os.path.relpath(os.path.join(fdir, name), odir), caption)
            for name, caption in FIGURES
            if os.path.exists(os.path.join(fdir, name))]


# ---- render: Markdown and HTML ----

def table_rows(rep, alt):
    """Headers and cells of the findings table; with alt = (report, label),
    a last column of that run's verdicts."""
    if not alt:
        return HEADERS, [cells(r) for r in rep.rows]
    return (HEADERS + ["verdict, %s" % alt[1]],
            compare_column(rep, alt[0], alt[1]))


def markdown(rep, figs, name=None, alt=None):
    heads, rows = table_rows(rep, alt)
    md = ["# " + (name or title("")), "",
          "Every number below is read from the analysis tables of this run; "
          "every verdict follows the rule in its row.", "",
          "**%s**" % summary(rep), ""]
    if alt:
        md += ["The last column is the verdict of the same claim in a second "
               "run, %s (its counts: %s)." % (alt[1], summary(alt[0])), ""]
    md += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for row in rows:
        md.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    md += ["", "## Figures", ""]
    for path, caption in figs:
        md += ["![%s](%s)" % (caption, path), "", caption, ""]
    md += ["## Runs that did not train", "", rep.stuck_text, "",
           "## Definitions", ""] + ["- " + d for d in DEFINITIONS] + [
           "", "## Provenance", "", "```", rep.provenance.strip(), "```", ""]
    return "\n".join(md)


CSS_CLASS = {HOLDS: "holds", CONTRADICTED: "fails", INCONCLUSIVE: "open"}


def html_page(rep, figs, name=None, opening=(), alt=None):
    e = html.escape
    heads, rows = table_rows(rep, alt)
    h = ["<!doctype html><html><head><meta charset='utf-8'>",
         "<title>xf report</title><style>body{font-family:sans-serif;"
         "max-width:1300px;margin:2em auto}table{border-collapse:collapse}"
         "td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}"
         ".holds{background:#d8f5d8}.fails{background:#f5d8d8}"
         ".open{background:#f5efd0}.notrun{background:#eee;color:#777}"
         "img{max-width:100%}</style></head><body>",
         "<h1>%s</h1>" % e(name or title(""))]
    h += regime.html_lines(opening)
    h += ["<p><b>%s</b></p>" % e(summary(rep))]
    if alt:
        h.append("<p>The last column is the verdict of the same claim in a "
                 "second run, %s (its counts: %s).</p>" % (
                     e(alt[1]), e(summary(alt[0]))))
    h.append("<table><tr>%s</tr>" % "".join("<th>%s</th>" % e(c) for c in heads))
    verdict_cols = {len(HEADERS) - 1, len(HEADERS)}
    for row in rows:
        h.append("<tr>" + "".join(
            "<td%s>%s</td>" % (" class='%s'" % CSS_CLASS.get(c, "notrun")
                               if i in verdict_cols else "", e(c))
            for i, c in enumerate(row)) + "</tr>")
    h.append("</table><h2>Figures</h2>")
    for path, caption in figs:
        h.append("<figure><img src='%s'><figcaption>%s</figcaption>"
                 "</figure>" % (e(path), e(caption)))
    h.append("<h2>Runs that did not train</h2><p>%s</p>" % e(rep.stuck_text))
    h.append("<h2>Definitions</h2><ul>%s</ul>" % "".join(
        "<li>%s</li>" % e(d) for d in DEFINITIONS))
    h.append("<h2>Provenance</h2><pre>%s</pre></body></html>" %
             e(rep.provenance))
    return "\n".join(h)


def with_other_pair(rep, other_adir, pair):
    """rep with the shuffle claims judged on the other pair's runs
    (other_adir, make paper) as rows of their own, and the counts again."""
    extra = [r._replace(study="shuffle, %s pair" % pair)
             for r in collect(other_adir).rows if r.study == "shuffle"]
    rows = []
    for r in rep.rows:
        rows.append(r)
        if r.study == "shuffle" and not any(x.study == "shuffle" for x in
                                            rep.rows[len(rows):]):
            rows += extra
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in rep.counts}
    return rep._replace(rows=rows, counts=counts)


def write(adir, fdir, odir, alt_adir=None, alt_label=None, other=None):
    rep = collect(adir)
    if other:
        rep = with_other_pair(rep, *other)
    figs = figures(fdir, odir)
    name = title(adir)
    alt = (collect(alt_adir), alt_label or alt_adir) if alt_adir else None
    opening = regime.section(adir, fdir, odir)[0]
    for fname, text in (("REPORT.md", regime.opening(
                             markdown(rep, figs, name, alt), adir, fdir, odir)),
                        ("report.html", html_page(rep, figs, name, opening,
                                                  alt))):
        path = os.path.join(odir, fname)
        with open(path + ".tmp", "w") as out:
            out.write(text)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(
        usage="report.py ANALYSIS_DIR FIG_DIR OUT_DIR [--compare ADIR LABEL] "
        "[--other-pair ADIR PAIR]")
    ap.add_argument("adir")
    ap.add_argument("fdir")
    ap.add_argument("odir")
    ap.add_argument("--compare", nargs=2, metavar=("ADIR", "LABEL"))
    ap.add_argument("--other-pair", nargs=2, metavar=("ADIR", "PAIR"))
    a = ap.parse_args()
    try:
        write(a.adir, a.fdir, a.odir, *(a.compare or (None, None)),
              other=a.other_pair)
    except (TableError, OSError) as err:
        sys.exit("report.py: %s" % err)
