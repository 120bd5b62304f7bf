#!/usr/bin/python3
"""Write REPORT.md and report.html from the analysis tables.

    report.py ANALYSIS_DIR FIG_DIR OUT_DIR

Every number and every verdict in the findings table comes from the TSV
files of ANALYSIS_DIR, by the rule printed beside it; nothing is typed here
but the claims of papers.md and the rules.  A study whose table is missing
is reported as not run.
"""
import csv
import html
import math
import os
import statistics
import sys

import regime


def table(adir, name):
    path = os.path.join(adir, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        for k, v in r.items():
            try:
                r[k] = float(v) if any(c in v for c in ".eEn") else int(v)
            except (ValueError, TypeError):
                pass
    return rows


def mean_sd(xs):
    if not xs:
        return float("nan"), float("nan")
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def above(xs, ys):
    """mean(xs) > mean(ys) by more than the standard error of the
    difference, sqrt(sd_x²/n_x + sd_y²/n_y): a gap within the spread over
    seeds is not a finding.  With one seed each, the plain comparison."""
    if not xs or not ys:
        return False
    (mx, sx), (my, sy) = mean_sd(xs), mean_sd(ys)
    return mx - my > math.sqrt(sx * sx / len(xs) + sy * sy / len(ys))


SE_RULE = "by more than the standard error of the difference over seeds"


def ms(xs, pct=False):
    m, s = mean_sd(xs)
    if pct:
        return "%.1f%% ± %.1f" % (100 * m, 100 * s)
    return "%.4g ± %.2g" % (m, s)


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
}
# The study column of each claim group.
STUDY_OF = {"cka": "similarity", "distance": "similarity"}
KIND_NAMES = {"pt": "P-T", "rit": "RI-T"}


class Findings:
    def __init__(self):
        self.rows = []

    def add(self, group, i, measured, holds, rule):
        """Claim i of CLAIMS[group], measured, and whether it holds."""
        verdict = "HOLDS" if holds else "DOES NOT HOLD"
        self.rows.append((STUDY_OF.get(group, group), CLAIMS[group][i],
                          measured, verdict, rule))

    def not_run(self, group):
        for claim in CLAIMS[group]:
            self.rows.append((STUDY_OF.get(group, group), claim, "—",
                              "NOT RUN", ""))


def shuffle_findings(f, t):
    if t is None:
        return f.not_run("shuffle")
    blocks = sorted({r["b"] for r in t}, reverse=True)
    big, small = blocks[0], blocks[-1]

    def acc(kind, b):
        return [r["acc"] for r in t if r["kind"] == kind and r["b"] == b]

    def steps(kind, b):
        return [r["speed_steps"] for r in t if r["kind"] == kind and r["b"] == b]

    def by_seed(kind, b, key):
        return {r["seed"]: r[key] for r in t if r["kind"] == kind and r["b"] == b}

    m = lambda xs: mean_sd(xs)[0]
    f.add("shuffle", 0,
          "P-T b=%d %s → b=%d %s; RI-T %s → %s" % (
              big, ms(acc("pt", big), 1), small, ms(acc("pt", small), 1),
              ms(acc("rit", big), 1), ms(acc("rit", small), 1)),
          above(acc("pt", big), acc("pt", small)) and
          above(acc("rit", big), acc("rit", small)),
          "mean accuracy at b=%d above mean at b=%d, for both, %s" % (
              big, small, SE_RULE))
    f.add("shuffle", 1,
          "b=%d: P-T %s, RI-T %s" % (small, ms(acc("pt", small), 1),
                                     ms(acc("rit", small), 1)),
          above(acc("pt", small), acc("rit", small)),
          "mean P-T accuracy above mean RI-T accuracy at b=%d, %s" % (
              small, SE_RULE))

    # Per seed: P-T and RI-T of one seed form a pair.
    def gaps(b):
        pt, rit = by_seed("pt", b, "acc"), by_seed("rit", b, "acc")
        return [(pt[s] - rit[s]) / pt[s] for s in sorted(pt) if s in rit and pt[s] > 0]
    f.add("shuffle", 2,
          ", ".join("b=%d: %.3f ± %.3f" % ((b,) + mean_sd(gaps(b))) for b in blocks),
          above(gaps(big), gaps(small)),
          "gap at b=%d below gap at b=%d, %s" % (small, big, SE_RULE))

    def slowdown(kind):
        a, z = by_seed(kind, big, "speed_steps"), by_seed(kind, small, "speed_steps")
        return [z[s] / max(a[s], 1) for s in sorted(a) if s in z]
    sp = lambda k, b: m(steps(k, b))
    f.add("shuffle", 3,
          "steps to 90%% of final: P-T %.0f → %.0f (×%s), RI-T %.0f → %.0f "
          "(×%s)" % (sp("pt", big), sp("pt", small), ms(slowdown("pt")),
                     sp("rit", big), sp("rit", small), ms(slowdown("rit"))),
          above(slowdown("rit"), slowdown("pt")),
          "RI-T's slow-down factor b=%d→%d (per seed) larger than P-T's, %s" % (
              big, small, SE_RULE))


def mistakes_findings(f, t):
    if t is None:
        return f.not_run("mistakes")
    by = {r["pair"]: r for r in t}

    def jac(p):
        r = by[p]
        return r["both_wrong"] / max(1, r["both_wrong"] + r["only_a_wrong"]
                                     + r["only_b_wrong"])
    f.add("mistakes", 0,
          "common / all mistakes: P-T/P-T %.3f, RI-T/RI-T %.3f, P-T/RI-T %.3f"
          % (jac("ptpt"), jac("ritrit"), jac("ptrit")),
          jac("ptpt") > jac("ptrit"),
          "P-T/P-T share of common mistakes above P-T/RI-T's")
    f.add("mistakes", 1,
          "P-T wrong and RI-T right: %d of %d" % (by["ptrit"]["only_a_wrong"],
                                                   by["ptrit"]["n"]),
          by["ptrit"]["only_a_wrong"] > 0, "at least one such example")


def similarity_findings(f, cka, dist):
    if cka is None:
        f.not_run("cka")
    else:
        def mc(p):
            return mean_sd([r["cka"] for r in cka if r["pair"] == p])[0]
        f.add("cka", 0,
              "P-T/P-T %.3f, RI-T/RI-T %.3f, P-T/RI-T %.3f, P/P-T %.3f"
              % (mc("ptpt"), mc("ritrit"), mc("ptrit"), mc("ppt")),
              mc("ptpt") > mc("ritrit") and mc("ptpt") > mc("ptrit"),
              "P-T/P-T mean CKA above both others")
    if dist is None:
        f.not_run("distance")
    else:
        d = {r["pair"]: r["total"] for r in dist if r["module"] == "total"} \
            if "module" in dist[0] else {}
        f.add("distance", 0,
              "P-T/P-T %.3g, RI-T/RI-T %.3g, P-T/RI-T %.3g, P/P-T %.3g"
              % tuple(d.get(p, float("nan")) for p in
                      ("ptpt", "ritrit", "ptrit", "ppt")),
              d.get("ptpt", 1e9) < d.get("ritrit", 0),
              "‖θ₁−θ₂‖ of P-T/P-T below RI-T/RI-T")


def basin_findings(f, t):
    if t is None:
        return f.not_run("basins")
    b = {r["pair"]: r["barrier"] for r in t}
    f.add("basins", 0,
          "barrier (error) P-T/P-T %.4f" % b["ptpt"], b["ptpt"] <= 0.01,
          "barrier ≤ 0.01 (1 point of error)")
    f.add("basins", 1,
          "barrier RI-T/RI-T %.4f, P-T/RI-T %.4f" % (b["ritrit"], b["ptrit"]),
          b["ritrit"] > 0.01 and b["ritrit"] > b["ptpt"],
          "RI-T/RI-T barrier > 0.01 and above P-T/P-T's")


def criticality_findings(f, t):
    if t is None:
        return f.not_run("criticality")
    pt = [r for r in t if r["kind"] == "pt"]
    half = len(pt) // 2
    lg = lambda rs: mean_sd([math.log10(1 + r["mu"]) for r in rs])[0]
    f.add("criticality", 0,
          "μ per module (P-T): " + ", ".join("%s %.3g" % (r["module"], r["mu"])
                                             for r in pt),
          lg(pt[half:]) > lg(pt[:half]),
          "mean log10(1+μ) of the upper half of modules above the lower "
          "half's")
    rit = [r for r in t if r["kind"] == "rit"]
    trans = [r for r in rit if r["alpha_min"] == r["alpha_min"]
             and r["alpha_min"] > 0]
    f.add("criticality", 1,
          "smallest feasible α at the smallest σ (RI-T): " + ", ".join(
              "%s %s" % (r["module"], "none" if r["alpha_min"] !=
                         r["alpha_min"] else "%.2g" % r["alpha_min"])
              for r in rit),
          2 * len(trans) > len(rit),
          "more than half of the RI-T modules have a feasible α > 0 and "
          "an infeasible α = 0")


def checkpoint_findings(f, t):
    if t is None:
        return f.not_run("checkpoints")
    final = t[-1]
    best = max(r["downstream_acc"] for r in t)
    first = next(r for r in t if r["downstream_acc"] >= best - 0.01)
    f.add("checkpoints", 0,
          "within 1 point of the best (%.1f%%) from pretraining step %d of %d"
          % (100 * best, first["pre_step"], final["pre_step"]),
          first["pre_step"] < final["pre_step"],
          "first checkpoint within 0.01 of the best comes before the last")


def yosinski_findings(f, t):
    if t is None:
        return f.not_run("yosinski")

    def accs(kind, n=None):
        return [r["acc"] for r in t if r["kind"] == kind
                and (n is None or r["n"] == n)]

    def acc(kind, n=None):
        return mean_sd(accs(kind, n))[0]
    ns = sorted({r["n"] for r in t if r["n"] > 0})
    base = accs("baseB")
    mid = ns[1:-1] or ns
    f.add("yosinski", 0, "baseB %s; BnB: " % ms(base) + ", ".join(
        "n%d %s" % (n, ms(accs("BnB", n))) for n in ns),
        any(above(base, accs("BnB", n)) for n in mid),
        "BnB below baseB at some middle n, " + SE_RULE)
    f.add("yosinski", 1, "AnB: " + ", ".join(
        "n%d %s" % (n, ms(accs("AnB", n))) for n in ns),
        above(accs("AnB", ns[0]), accs("AnB", ns[-1])),
        "AnB at the largest n below AnB at n=1, " + SE_RULE)
    f.add("yosinski", 2, "baseB %s; AnB+ over all n %s" % (
        ms(base), ms(accs("AnB+"))), above(accs("AnB+"), base),
        "AnB+ (all n and seeds) above baseB, " + SE_RULE)
    f.add("yosinski", 3, ", ".join(
        "n%d rand %.3f / AnB %.3f" % (n, acc("rand", n), acc("AnB", n))
        for n in ns), all(above(accs("AnB", n), accs("rand", n)) for n in ns),
        "random frozen below AnB at every n, " + SE_RULE)
    f.add("yosinski", 4, "at n=%d: dissimilar %s, AnB %s" % (
        ns[-1], ms(accs("dis", ns[-1])), ms(accs("AnB", ns[-1]))),
        above(accs("AnB", ns[-1]), accs("dis", ns[-1])),
        "dissimilar-source accuracy below AnB's at the largest n, " + SE_RULE)


def landscape_findings(f, t):
    if t is None:
        return f.not_run("landscape")
    v = {r["measure"]: r for r in t}
    for i, key in enumerate(("distance", "grad_norm", "sharpness")):
        r = v[key]
        f.add("landscape", i, "P-T %.4g, RI-T %.4g" % (r["pt"], r["rit"]),
              r["pt"] < r["rit"], "P-T's %s below RI-T's" % key)


FIGURES = [
    ("shuffle-acc.png", "Final target accuracy against block size b, P-T and "
     "RI-T: the mean over seeds, with bars from the lowest to the highest "
     "seed."),
    ("curves.png", "Learning curves (validation accuracy against step) at "
     "b = 28 and at the smallest b."),
    ("cka.png", "Linear CKA per module for the four pairs."),
    ("interp.png", "Error along the line between two solutions (λ = 0 and 1 "
     "are the endpoints)."),
    ("critic-pt.png", "Criticality heatmap of P-T: mean error over (α, σ) per "
     "module, on a log colour scale; white circles mark the feasible cells "
     "(mean error ≤ ε).  The valley of feasible cells narrows from conv1 to "
     "fc1 and fc2 when higher modules are more critical."),
    ("critic-rit.png", "The same for RI-T."),
    ("checkpoints.png", "Downstream accuracy against pretraining step and "
     "against upstream accuracy."),
    ("yosinski.png", "Yosinski's plot: accuracy on B against the number of "
     "copied layers n; lines are means over seeds, dots are the seeds' runs "
     "(the dissimilar pair is tested on the digits)."),
    ("landscape.png", "Loss along a random filter-normalised direction "
     "around P-T and RI-T."),
]


STUCK_BELOW = 0.3


def stuck_runs(adir):
    """The training runs whose final test accuracy is below STUCK_BELOW
    (chance is 0.1 on the digits, 0.2 on a five-class half): runs that never
    left the initial plateau.  The random-frozen control is left out: a
    head on frozen random layers is expected to be poor.  Returns (stuck
    names, number of runs looked at)."""
    runs = []
    for r in table(adir, "shuffle.tsv") or []:
        runs.append(("shuffle b=%s %s seed %s" % (
            r["b"], KIND_NAMES[r["kind"]], r["seed"]), r["acc"]))
    for r in table(adir, "yosinski.tsv") or []:
        if r["kind"] == "rand":
            continue
        runs.append(("yosinski %s%s seed %s" % (
            r["kind"], "" if r["n"] == 0 else " n=%s" % r["n"], r["seed"]), r["acc"]))
    for r in table(adir, "checkpoints.tsv") or []:
        runs.append(("checkpoints step %s" % r["pre_step"], r["downstream_acc"]))
    return ["%s (%.3f)" % (n, a) for n, a in runs if a < STUCK_BELOW], len(runs)


def write(adir, fdir, odir):
    f = Findings()
    shuffle_findings(f, table(adir, "shuffle.tsv"))
    mistakes_findings(f, table(adir, "mistakes.tsv"))
    similarity_findings(f, table(adir, "cka.tsv"), table(adir, "distance.tsv"))
    basin_findings(f, table(adir, "basins.tsv"))
    criticality_findings(f, table(adir, "criticality.tsv"))
    checkpoint_findings(f, table(adir, "checkpoints.tsv"))
    yosinski_findings(f, table(adir, "yosinski.tsv"))
    landscape_findings(f, table(adir, "landscape.tsv"))
    prov = ""
    pfile = os.path.join(adir, "provenance.txt")
    if os.path.exists(pfile):
        prov = open(pfile).read()

    stuck, n_runs = stuck_runs(adir)
    if stuck:
        stuck_text = ("%d of the %d training runs (random-frozen controls "
                      "left out) ended below %d%% test "
                      "accuracy, never leaving the plateau near chance they "
                      "start on: %s.  They are kept in every mean and spread "
                      "above, where they show as a large spread." % (
                          len(stuck), n_runs, 100 * STUCK_BELOW,
                          "; ".join(stuck)))
    else:
        stuck_text = ("All %d training runs (random-frozen controls left "
                      "out) ended above %d%% test accuracy."
                      % (n_runs, 100 * STUCK_BELOW))
    definitions = [
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
        "Landscape (seed 1 at b = 28): distance is ‖θ − θ⁰‖ at the end of "
        "fine-tuning; grad_norm is the mean gradient norm over the logged "
        "steps of fine-tuning; sharpness is the mean rise of the test loss "
        "from t = 0 to t = ±1 along one random filter-normalised direction.",
        "Spread: ± is the standard deviation over seeds.  A comparison "
        "over seeds holds only when the difference of the means exceeds "
        "the standard error of that difference."]

    held = sum(1 for r in f.rows if r[3] == "HOLDS")
    failed = sum(1 for r in f.rows if r[3] == "DOES NOT HOLD")
    summary = "%d findings hold, %d do not." % (held, failed)
    if len(f.rows) > held + failed:
        summary += (" %d were not run here: their studies are not in "
                    "STUDIES (make paper runs all nine)." % (
                        len(f.rows) - held - failed))
    md = ["# What is being transferred? Fashion-MNIST → MNIST digits", "",
          "Every number below is read from the analysis tables of this run; "
          "every verdict follows the rule in the last column.", "",
          summary, "",
          "| study | claim (papers.md) | measured here | verdict | rule |",
          "|---|---|---|---|---|"]
    md[2:2] = regime.section(adir, fdir, odir)[0]
    for r in f.rows:
        md.append("| " + " | ".join(s.replace("|", "/") for s in r) + " |")
    md += ["", "## Figures", ""]
    for name, caption in FIGURES:
        if os.path.exists(os.path.join(fdir, name)):
            md += ["![%s](%s)" % (caption, os.path.relpath(
                os.path.join(fdir, name), odir)), "", caption, ""]
    md += ["## Runs that did not train", "", stuck_text, "",
           "## Definitions", ""] + ["- " + d for d in definitions] + [
           "", "## Provenance", "", "```", prov.strip(), "```", ""]
    with open(os.path.join(odir, "REPORT.md"), "w") as out:
        out.write("\n".join(md))

    h = ["<!doctype html><html><head><meta charset='utf-8'>",
         "<title>xf report</title><style>body{font-family:sans-serif;"
         "max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
         "td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}"
         ".holds{background:#d8f5d8}.fails{background:#f5d8d8}"
         ".notrun{background:#eee;color:#777}"
         "img{max-width:100%}</style></head><body>",
         "<h1>What is being transferred? Fashion-MNIST → MNIST digits</h1>",
         "<p>%s</p>" % html.escape(summary),
         "<table><tr><th>study</th><th>claim</th><th>measured here</th>"
         "<th>verdict</th><th>rule</th></tr>"]
    for r in f.rows:
        cls = {"HOLDS": "holds", "DOES NOT HOLD": "fails"}.get(r[3], "notrun")
        h.append("<tr>" + "".join(
            "<td%s>%s</td>" % (" class='%s'" % cls if i == 3 else "",
                               html.escape(c)) for i, c in enumerate(r))
            + "</tr>")
    h.append("</table><h2>Figures</h2>")
    for name, caption in FIGURES:
        if os.path.exists(os.path.join(fdir, name)):
            h.append("<figure><img src='%s'><figcaption>%s</figcaption>"
                     "</figure>" % (html.escape(os.path.relpath(
                         os.path.join(fdir, name), odir)),
                         html.escape(caption)))
    h.append("<h2>Runs that did not train</h2><p>%s</p>" %
             html.escape(stuck_text))
    h.append("<h2>Definitions</h2><ul>%s</ul>" % "".join(
        "<li>%s</li>" % html.escape(d) for d in definitions))
    h.append("<h2>Provenance</h2><pre>%s</pre></body></html>" %
             html.escape(prov))
    with open(os.path.join(odir, "report.html"), "w") as out:
        out.write("\n".join(h))


if __name__ == "__main__":
    write(*sys.argv[1:4])
