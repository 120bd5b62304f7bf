#!/usr/bin/python3
"""The regime study (issue 15 §1): where does pretraining help?

    regime.py tables RUNDIR DATADIR PREDIR ADIR PLATEAU PICK_PAIR MIN_LEAD

reads the runs PAIR-nN-KIND-sSEED of RUNDIR and writes, in ADIR:
    regime.tsv         one row per run: pair, n, kind, seed, acc, converged,
                       steps, chance (1 / the target's classes)
    regime-mean.tsv    per pair and n: mean and 95% t-interval of each arm
                       and of the paired lead P-T − RI-T
    regime-curves.tsv  the validation curves, for the convergence figure
    regime-choice.mk   the rule's choice, as make variables
section(adir, fdir, odir) is the report's opening section (Markdown).
"""
import math
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import records, val_curve, write_tsv  # noqa: E402
import stats  # noqa: E402

PAIR_NAMES = {"near": "near: source classes A → classes B",
              "far": "far: Fashion-MNIST → MNIST digits"}


def interval(xs):
    """Mean and 95% t-interval (n−1 degrees of freedom) of xs, from
    stats.py; the interval is None with fewer than two values."""
    iv = stats.mean_interval(xs)
    if math.isnan(iv.lo):
        return iv.est, None, None
    return iv.est, iv.lo, iv.hi


def converged(curve, plateau):
    """Whether a validation curve has levelled off: the mean over the last
    quarter of its steps is at most plateau above the mean over the quarter
    before.  (step, acc) pairs, in step order."""
    if len(curve) < 4:
        return False
    last = curve[-1][0]
    q4 = [a for s, a in curve if s > 0.75 * last]
    q3 = [a for s, a in curve if 0.5 * last < s <= 0.75 * last]
    if not q4 or not q3:
        return False
    return sum(q4) / len(q4) - sum(q3) / len(q3) <= plateau


def leads(rows):
    """Per (pair, n): the paired leads P-T − RI-T over the seeds both arms
    ran, and each arm's accuracies."""
    out = {}
    for pair, n in sorted({(r[0], r[1]) for r in rows}, key=lambda k: (k[0], k[1])):
        acc = {k: {r[3]: r[4] for r in rows if r[:3] == (pair, n, k)}
               for k in ("pt", "rit")}
        seeds = sorted(set(acc["pt"]) & set(acc["rit"]))
        out[(pair, n)] = ([acc["pt"][s] - acc["rit"][s] for s in seeds],
                          list(acc["pt"].values()), list(acc["rit"].values()))
    return out


def choose(mean, pick_pair, min_lead):
    """The rule of config.mk.  mean: rows (pair, n, lead, lead_lo, lead_hi).
    Returns (pair, n, premise_met, why)."""
    def qualifying(pair):
        return [r for r in mean if r[0] == pair and r[3] is not None
                and r[3] > min_lead]
    pairs = [pick_pair] + sorted({r[0] for r in mean} - {pick_pair})
    for p in pairs:
        q = qualifying(p)
        if q:
            best = max(q, key=lambda r: r[1])
            return (p, best[1], True,
                    "the largest N on the %s pair at which P-T's lead has a "
                    "95%% interval above %g points (%.1f to %.1f)" % (
                        p, 100 * min_lead, 100 * best[3], 100 * best[4]))
    cand = [r for r in mean if r[0] == pick_pair and r[3] is not None]
    if not cand:
        cand = [r for r in mean if r[0] == pick_pair]
        best = max(cand, key=lambda r: r[1])
        return (pick_pair, best[1], False,
                "no N has an interval (fewer than two seeds); the largest N")
    best = max(cand, key=lambda r: (r[3], -r[1]))
    return (pick_pair, best[1], False,
            "no N on either pair has P-T's lead above %g points with 95%% "
            "confidence: the premise is not met; the N of the %s pair whose "
            "interval's lower end is highest (%.1f points)" % (
                100 * min_lead, pick_pair, 100 * best[3]))


def header(path):
    """An xf stream's header."""
    import json
    h = subprocess.run(["xf-cat", "--header", path], check=True,
                       capture_output=True, text=True).stdout
    return json.loads(h)


def count(path):
    """The record count in an xf stream's header."""
    return header(path)["count"]


# A run that ends under this multiple of chance accuracy (1 / classes) has
# not left the plateau near chance where a plain ReLU stack can start: its
# accuracy measures the initialisation, not a trained network.  The report
# lists such runs whatever their curves did (a run stuck at chance is flat,
# so the plateau criterion calls it converged).  1.5 is far below every
# trained run here (the worst at N = 100 reaches several times chance) and
# above a run that learned a class or two by accident.
CHANCE_FACTOR = 1.5


def at_chance(acc, chance):
    """Whether a test accuracy is still at chance (see CHANCE_FACTOR)."""
    return acc < CHANCE_FACTOR * chance


def tables(rundir, datadir, predir, adir, plateau, pick_pair, min_lead):
    plateau, min_lead = float(plateau), float(min_lead)
    pat = re.compile(r"(near|far)-n(\d+|all)-(pt|rit)-s(\d+)\.eval\.xfs$")
    rows, curves, sizes, chance = [], [], {}, {}
    for name in sorted(os.listdir(rundir)):
        m = pat.match(name)
        if not m:
            continue
        pair, tag, kind, seed = m.group(1), m.group(2), m.group(3), int(m.group(4))
        if (pair, tag) not in sizes:
            sizes[(pair, tag)] = count(os.path.join(
                datadir, "reg-%s-train-n%s.xfs" % (pair, tag)))
        if pair not in chance:
            chance[pair] = 1.0 / header(os.path.join(
                datadir, "reg-%s-test.xfs" % pair))["classes"]
        n = sizes[(pair, tag)]
        base = os.path.join(rundir, name[:-len(".eval.xfs")])
        curve = val_curve(base + ".log.xfs")
        acc = records(base + ".eval.xfs")[0]["acc"]
        rows.append((pair, n, kind, seed, acc, int(converged(curve, plateau)),
                     curve[-1][0] if curve else 0, chance[pair]))
        curves += [(pair, n, kind, seed, s, a) for s, a in curve]
    # size_index: the rank of n among the pair's sizes, for the figure.
    rank = {(p, n): i + 1 for p in {k[0] for k in sizes} for i, n in
            enumerate(sorted(v for k, v in sizes.items() if k[0] == p))}
    curves = [c + (rank[(c[0], c[1])],) for c in sorted(curves)]
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    write_tsv(os.path.join(adir, "regime.tsv"), ["pair", "n", "kind", "seed",
              "acc", "converged", "steps", "chance"], rows)
    write_tsv(os.path.join(adir, "regime-curves.tsv"), ["pair", "n", "kind",
              "seed", "step", "val_acc", "size_index"], curves)
    mean = []
    for (pair, n), (d, pt, rit) in leads(rows).items():
        mean.append((pair, n) + interval(pt) + interval(rit) + interval(d)
                    + (len(d),))
    na = lambda v: "nan" if v is None else v  # noqa: E731
    write_tsv(os.path.join(adir, "regime-mean.tsv"),
              ["pair", "n", "pt", "pt_lo", "pt_hi", "rit", "rit_lo", "rit_hi",
               "lead", "lead_lo", "lead_hi", "seeds"],
              [[na(v) for v in r] for r in mean])
    pair, n, met, why = choose([(r[0], r[1], r[8], r[9], r[10]) for r in mean],
                               pick_pair, min_lead)
    pre = {}
    for p, f in (("near", "near/p.log.xfs"), ("far", "p.log.xfs")):
        c = val_curve(os.path.join(predir, f)) if os.path.exists(
            os.path.join(predir, f)) else []
        pre[p] = c[-1][1] if c else float("nan")
    tmp = os.path.join(adir, "regime-choice.mk.tmp")
    with open(tmp, "w") as out:
        out.write("# The regime rule's choice (config.mk, REG_PICK_PAIR).\n"
                  "REGIME_PAIR := %s\nREGIME_N_TARGET := %d\n"
                  "REGIME_PREMISE := %s\n# %s\n"
                  "REGIME_PRE_ACC_near := %.4f\nREGIME_PRE_ACC_far := %.4f\n"
                  % (pair, n, "met" if met else "not-met", why,
                     pre["near"], pre["far"]))
    os.replace(tmp, os.path.join(adir, "regime-choice.mk"))


def read_choice(adir):
    out = {}
    with open(os.path.join(adir, "regime-choice.mk")) as f:
        for line in f:
            if line.startswith("#"):
                if "why" not in out and "REGIME_PREMISE" in out:
                    out["why"] = line[1:].strip()
                continue
            k, _, v = line.partition(":=")
            out[k.strip()] = v.strip()
    return out


def pts(x):
    return "nan" if x is None or x != x else "%.1f" % (100 * x)


def section(adir, fdir, odir):
    """The report's opening section, as a list of Markdown lines, and the
    chosen (pair, N); ([], None) when the study has not run."""
    if not os.path.exists(os.path.join(adir, "regime-choice.mk")):
        return [], None
    import csv
    c = read_choice(adir)
    with open(os.path.join(adir, "regime-mean.tsv")) as f:
        mean = list(csv.DictReader(f, delimiter="\t"))
    with open(os.path.join(adir, "regime.tsv")) as f:
        runs = list(csv.DictReader(f, delimiter="\t"))
    fig = lambda n: os.path.relpath(os.path.join(fdir, n), odir)  # noqa: E731
    md = ["## Where pretraining helps: the regime of the studies", "",
          "![P-T and RI-T test accuracy against target size](%s)" %
          fig("regime.png"), "",
          "**Chosen: the %s pair at N_TARGET = %s** (%s).  The rule is "
          "fixed in config.mk before the runs and looks only at whether "
          "pretraining helps." % (c["REGIME_PAIR"], c["REGIME_N_TARGET"],
                                  c.get("why", "")), ""]
    if c["REGIME_PREMISE"] != "met":
        md += ["**The papers' premise is not met in these runs**: nowhere "
               "does pretraining help by the rule's margin.", ""]
    md += ["| pair | N | P-T (95% CI) | RI-T (95% CI) | lead, points "
           "(95% CI) | seeds |", "|---|---|---|---|---|---|"]
    for r in mean:
        f = {k: float(v) for k, v in r.items() if k not in ("pair",)}
        md.append("| %s | %d | %s (%s–%s) | %s (%s–%s) | %s (%s to %s) | %d |"
                  % (r["pair"], f["n"], pts(f["pt"]), pts(f["pt_lo"]),
                     pts(f["pt_hi"]), pts(f["rit"]), pts(f["rit_lo"]),
                     pts(f["rit_hi"]), pts(f["lead"]), pts(f["lead_lo"]),
                     pts(f["lead_hi"]), f["seeds"]))
    slow = ["%s N=%s %s seed %s" % (r["pair"], r["n"], r["kind"].upper(),
                                    r["seed"])
            for r in runs if r["converged"] != "1"]
    md += ["", "Accuracy is on the whole test split of each target, in "
           "percent; intervals are t-intervals over seeds (n−1 degrees of "
           "freedom), the lead's paired by seed.  Every run trains the same "
           "number of steps (%s), whatever N is.  Pretrained models: near "
           "P_A %s%% on its source's validation subset, far P %s%%." % (
               runs[0]["steps"] if runs else "?",
               pts(float(c.get("REGIME_PRE_ACC_near", "nan"))),
               pts(float(c.get("REGIME_PRE_ACC_far", "nan")))), "",
           "![Learning curves of the regime runs](%s)" % fig(
               "regime-curves.png"), ""]
    if slow:
        md += ["Not converged by the plateau criterion (validation accuracy "
               "still rising by more than REG_PLATEAU over the last quarter "
               "of the budget): %d of %d runs: %s." % (
                   len(slow), len(runs), "; ".join(slow)), ""]
    else:
        md += ["All %d runs converged by the plateau criterion (validation "
               "accuracy over the last quarter of the budget within "
               "REG_PLATEAU of the quarter before)." % len(runs), ""]
    stuck = ["%s N=%s %s seed %s (%s%%)" % (r["pair"], r["n"],
                                           r["kind"].upper(), r["seed"],
                                           pts(float(r["acc"])))
             for r in runs if at_chance(float(r["acc"]), float(r["chance"]))]
    md += ["%s (test accuracy under %g × chance, 1 / the target's classes: "
           "the run stayed on the plateau near chance where a plain ReLU "
           "stack with PyTorch's default initialisation can start, and its "
           "seed's lead measures that, not a trained baseline)%s" % (
               "Did not leave chance: %d of %d runs" % (len(stuck), len(runs))
               if stuck else "Every run left chance", CHANCE_FACTOR,
               ": " + "; ".join(stuck) + "." if stuck else "."), ""]
    md += ["The studies below run on this pair and N_TARGET, and their "
           "fine-tuning runs train as the regime's runs did (same batch, "
           "steps and rate), unless the run was made with USE_REGIME=0.", ""]
    return md, (c["REGIME_PAIR"], int(c["REGIME_N_TARGET"]))


def html_lines(md):
    """The regime section's Markdown lines (section()) as HTML: its headings,
    figures, paragraphs and one table."""
    import html
    e = html.escape
    bold = lambda t: re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", e(t))  # noqa: E731
    out, in_table = [], False
    for line in md:
        if line.startswith("|"):
            cols = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cols)) <= set("-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join("<%s>%s</%s>" % (tag, e(c), tag)
                                        for c in cols) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        m = re.match(r"!\[(.*)\]\((.*)\)$", line)
        if line.startswith("## "):
            out.append("<h2>%s</h2>" % e(line[3:]))
        elif m:
            out.append("<figure><img src='%s' alt='%s'></figure>" % (
                e(m.group(2)), e(m.group(1))))
        elif line.strip():
            out.append("<p>%s</p>" % bold(line))
    if in_table:
        out.append("</table>")
    return out


def opening(md, adir, fdir, odir):
    """The report's Markdown md with the regime section after its title
    line (report.py's hook)."""
    head, sep, rest = md.partition("\n\n")
    sec = section(adir, fdir, odir)[0]
    return head + sep + "\n".join(sec) + ("\n" if sec else "") + rest


if __name__ == "__main__":
    if len(sys.argv) != 9 or sys.argv[1] != "tables":
        sys.exit("usage: regime.py tables RUNDIR DATADIR PREDIR ADIR PLATEAU "
                 "PICK_PAIR MIN_LEAD")
    tables(*sys.argv[2:])
