#!/usr/bin/python3
"""Turn a study's xf streams into TSV tables for gnuplot and the report.

Streams are read through `xf-cat --json`, one JSON object per line, so this
script needs no msgpack module and reads exactly what a person would see.

    tables.py shuffle RUNDIR FRACTION OUT.tsv CURVES.tsv
    tables.py checkpoints RUNDIR PREDIR SRC_TEST OUT.tsv
    tables.py yosinski RUNDIR OUT.tsv
    tables.py mistakes PAIRS.xfs OUT.tsv
    tables.py cka ANALYSIS_DIR OUT.tsv PAIR...
    tables.py basins ANALYSIS_DIR OUT.tsv DISTANCE.tsv PAIR...
    tables.py criticality ANALYSIS_DIR OUT.tsv
    tables.py landscape ANALYSIS_DIR RUN_PREFIX SEED OUT.tsv
    tables.py similarity ANALYSIS_DIR OUT.tsv "MEASURE..." PAIR...
    tables.py scores SCORES_DIR SCORES OUT.tsv
    tables.py hessian ANALYSIS_DIR OUT.tsv
"""
import glob
import json
import os
import re
import subprocess
import sys
from collections import namedtuple


def records(path):
    """The records of an xf stream, as dicts."""
    out = subprocess.run(["xf-cat", "--json", "--no-x", path], check=True,
                         capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def write_tsv(path, header, rows):
    with open(path + ".tmp", "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(fmt(v) for v in r) + "\n")
    os.replace(path + ".tmp", path)


def fmt(v):
    if isinstance(v, float):
        return "%.6g" % v
    return str(v)


def val_curve(log):
    """(step, val_acc) pairs of a training log, in step order."""
    return [(r["step"], r["val_acc"]) for r in records(log)
            if r.get("val_acc") is not None]


def speed(curve, fraction):
    """Steps until val_acc first reaches fraction × the final val_acc."""
    final = curve[-1][1]
    for step, acc in curve:
        if acc >= fraction * final:
            return step
    return curve[-1][0]


ShuffleRun = namedtuple("ShuffleRun", "b kind seed acc loss speed_steps")
YosinskiRun = namedtuple("YosinskiRun", "kind n seed acc")


def shuffle(rundir, fraction, out, curves_out):
    rows, curves = [], []
    pat = re.compile(r"b(\d+)-(pt|rit)-s(\d+)\.eval\.xfs$")
    for path in sorted(glob.glob(os.path.join(rundir, "*.eval.xfs"))):
        m = pat.search(path)
        if not m:
            continue
        b, kind, seed = int(m.group(1)), m.group(2), int(m.group(3))
        ev = records(path)[0]
        curve = val_curve(path.replace(".eval.xfs", ".log.xfs"))
        rows.append(ShuffleRun(b, kind, seed, ev["acc"], ev["loss"],
                               speed(curve, float(fraction))))
        curves += [(b, kind, seed, s, a) for s, a in curve]
    rows.sort(key=lambda r: (-r.b, r.kind, r.seed))
    curves.sort(key=lambda c: (-c[0], c[1], c[2], c[3]))
    write_tsv(out, ShuffleRun._fields, rows)
    write_tsv(curves_out, ["b", "kind", "seed", "step", "val_acc"], curves)
    mean = []
    for b in sorted({r.b for r in rows}, reverse=True):
        row = [b]
        for kind in ("pt", "rit"):
            accs = [r.acc for r in rows if r.b == b and r.kind == kind]
            m = sum(accs) / len(accs)
            row += [m, min(accs), max(accs)]
        mean.append(row)
    write_tsv(out.replace(".tsv", "-mean.tsv"), ["b", "pt", "pt_min", "pt_max",
              "rit", "rit_min", "rit_max"], mean)


def series(d, exts):
    """(epoch, step, path, ext) of the files of P's checkpoint series in d,
    named p-eE-sS.EXT for EXT in exts, in name order."""
    pat = re.compile(r"p-e(\d+)-s(\d+)\.(%s)$" % "|".join(
        re.escape(e) for e in exts))
    for path in sorted(glob.glob(os.path.join(d, "p-e*-s*.*"))):
        m = pat.search(path)
        if m:
            yield int(m.group(1)), int(m.group(2)), path, m.group(3)


def checkpoints(rundir, predir, src_test, out):
    """Downstream accuracy of P-T from each pretraining checkpoint, against
    the checkpoint's step and its upstream (source test) accuracy."""
    rows = []
    # The series starts at step 0: θ0 is its first checkpoint.
    for epoch, step, path, _ in series(rundir, ["eval.xfs"]):
        ckpt = os.path.join(predir, os.path.basename(path)[:-len(".eval.xfs")]
                            + ".tar")
        up = subprocess.run(["xf-eval", "-m", ckpt, src_test], check=True,
                            capture_output=True).stdout
        upstream = json.loads(subprocess.run(
            ["xf-cat", "--json"], input=up, check=True,
            capture_output=True).stdout.decode().splitlines()[0])["acc"]
        down = records(path)[0]
        rows.append((step, epoch, upstream, down["acc"], down["n"]))
    rows.sort()
    write_tsv(out, ["pre_step", "pre_epoch", "upstream_acc", "downstream_acc",
                    "n"], rows)


def yosinski(rundir, out):
    """Accuracy on B of each transfer network, by kind, n and seed; the
    bases as kind baseA/baseB with n = 0."""
    rows = []
    pat = re.compile(r"(base[AB]|AnB\+?|BnB\+?|rand|dis)(?:-n(\d+))?-s(\d+)"
                     r"\.eval\.xfs$")
    for path in sorted(glob.glob(os.path.join(rundir, "*.eval.xfs"))):
        m = pat.search(path)
        if not m:
            continue
        kind, n, seed = m.group(1), int(m.group(2) or 0), int(m.group(3))
        rows.append(YosinskiRun(kind, n, seed, records(path)[0]["acc"]))
    rows.sort()
    write_tsv(out, YosinskiRun._fields, rows)
    kinds = ["AnB", "BnB", "AnB+", "BnB+", "rand", "dis"]
    ns = sorted({r.n for r in rows if r.n > 0})
    base = [r.acc for r in rows if r.kind == "baseB"]
    wide = []
    for n in ns:
        row = [n, sum(base) / len(base) if base else float("nan")]
        for k in kinds:
            accs = [r.acc for r in rows if r.kind == k and r.n == n]
            row.append(sum(accs) / len(accs) if accs else float("nan"))
        wide.append(row)
    write_tsv(out.replace(".tsv", "-wide.tsv"), ["n", "baseB"] + kinds, wide)


def label(model):
    """A model's column name: its checkpoint's file name without .tar."""
    return os.path.basename(model)[:-len(".tar")] if model.endswith(".tar") \
        else os.path.basename(model)


def kind_of(model):
    """(kind, seed) of a shuffle-study checkpoint, from its name."""
    m = re.search(r"-(pt|rit)-s(\d+)\.tar$", model)
    if not m:
        sys.exit("tables.py: %s: not a P-T or RI-T run" % model)
    return m.group(1), int(m.group(2))


def mistakes(pairs, out):
    """The agreement of P-T/P-T, RI-T/RI-T and P-T/RI-T (same seed), picked
    from the pair records of `xf-eval --pairs` by their a and b fields; and
    beside it (OUT-ex.tsv) which test examples each model got wrong, from
    the --examples stream xf-eval wrote with it (PAIRS-ex.xfs, with the
    models' order in its summary PAIRS-eval.xfs), for the bootstrap."""
    rows, want = [], {"ptpt": None, "ritrit": None, "ptrit": None}
    for r in records(pairs):
        (ka, sa), (kb, sb) = kind_of(r["a"]), kind_of(r["b"])
        name = "ptrit" if (ka, kb) == ("pt", "rit") and sa == sb else \
            ka + kb if ka == kb else None
        if name in want and want[name] is None:
            want[name] = r
    for name, r in want.items():
        if r is None:
            sys.exit("tables.py: %s: no %s pair" % (pairs, name))
        rows.append((name, label(r["a"]), label(r["b"]), r["n"],
                     r["both_right"], r["both_wrong"], r["same_wrong"],
                     r["only_a_wrong"], r["only_b_wrong"]))
    write_tsv(out, ["pair", "a", "b", "n", "both_right", "both_wrong",
                    "same_wrong", "only_a_wrong", "only_b_wrong"], rows)
    base = pairs[:-len(".xfs")]
    models = [label(r["model"]) for r in records(base + "-eval.xfs")]
    wrong = [[r["i"]] + [0 if r["correct%d" % k] else 1
                         for k in range(len(models))]
             for r in records(base + "-ex.xfs")]
    write_tsv(out.replace(".tsv", "-ex.tsv"), ["i"] + models, wrong)


CkaRow = namedtuple("CkaRow", "pair module cka n")


def cka(adir, out, names):
    """Linear CKA per module of each pair (xf-cka --matched: a record's
    module a of one model against the same module b of the other)."""
    rows = []
    for name in names:
        path = os.path.join(adir, "cka-%s.xfs" % name)
        for r in records(path):
            if r["a"] != r["b"]:
                sys.exit("tables.py: %s: module %s against %s, want matched "
                         "modules" % (path, r["a"], r["b"]))
            rows.append(CkaRow(name, r["a"], r["cka"], r["n"]))
    write_tsv(out, CkaRow._fields, rows)
    modules = list(dict.fromkeys(r.module for r in rows))
    value = {(r.pair, r.module): r.cka for r in rows}
    # The figure's wide table: the first pair of each kind (replicates,
    # PAIR.k, are in the long table).
    first = [p for p in names if "." not in p]
    wide = [[m] + [value.get((p, m), float("nan")) for p in first]
            for m in modules]
    write_tsv(out.replace(".tsv", "-wide.tsv"), ["module"] + first, wide)


def basins(adir, out, dist_out, names):
    """Barriers from the interpolation summaries; per-module distances."""
    rows, dist = [], []
    for name in names:
        summ = records(os.path.join(adir, "interp-%s.sum.xfs" % name))[0]
        rows.append((name, summ["barrier"], summ["barrier_loss"],
                     summ["error_min"], summ["error_max"]))
        dist.append((name, "total", summ["dist"]))
        dist += [(name, k[len("dist_"):], v) for k, v in summ.items()
                 if k.startswith("dist_")]
    write_tsv(out, ["pair", "barrier", "barrier_loss", "error_min",
                    "error_max"], rows)
    write_tsv(dist_out, ["pair", "module", "total"], dist)


def criticality(adir, out):
    """μ per module, and the transition point: the smallest α whose cell at
    the smallest σ is feasible (NaN when none is)."""
    rows = []
    for kind in ("pt", "rit"):
        cells = records(os.path.join(adir, "critic-%s.xfs" % kind))
        for r in records(os.path.join(adir, "critic-%s.sum.xfs" % kind)):
            if r["module"] == "network":
                continue
            mine = [c for c in cells if c["module"] == r["module"]]
            s0 = min(c["sigma"] for c in mine)
            feas = [c["alpha"] for c in mine
                    if c["sigma"] == s0 and c["feasible"]]
            rows.append((kind, r["module"], r["mu"], r["dist"],
                         min(feas) if feas else float("nan")))
    write_tsv(out, ["kind", "module", "mu", "dist", "alpha_min"], rows)


def landscape(adir, prefix, seed, out):
    """Liu et al.'s measures for P-T and RI-T, one row per measure and seed:
    distance from the starting weights at the end of fine-tuning and mean
    gradient norm over fine-tuning for every seed whose P-T and RI-T logs
    PREFIX-{pt,rit}-sS.log.xfs exist; for SEED only (the one the analyses
    ran on), sharpness along a random filter-normalised direction (mean loss
    rise at the ends, t = ±1) and the largest gradient change along the
    gradient."""
    def logged(kind, s):
        log = records("%s-%s-s%s.log.xfs" % (prefix, kind, s))
        d2 = sum(v * v for k, v in log[-1].items() if k.startswith("dist."))
        gn = [r["grad_norm"] for r in log]
        return d2 ** 0.5, sum(gn) / len(gn)

    def probed(kind):
        land = records(os.path.join(adir, "land-%s.xfs" % kind))
        mid = min(land, key=lambda r: abs(r["t"]))["loss"]
        ends = [r["loss"] for r in land if abs(abs(r["t"]) - 1) < 1e-9]
        grad = records(os.path.join(adir, "grad-%s.xfs" % kind))
        return sum(ends) / len(ends) - mid, max(r["grad_change"] for r in grad)

    pat = re.compile(re.escape(prefix) + r"-pt-s(\d+)\.log\.xfs$")
    seeds = sorted(int(m.group(1)) for m in
                   map(pat.match, glob.glob(prefix + "-pt-s*.log.xfs")) if m
                   and os.path.exists("%s-rit-s%s.log.xfs" % (prefix, m.group(1))))
    rows = []
    for s in seeds:
        (dp, gp), (dr, gr) = logged("pt", s), logged("rit", s)
        rows += [("distance", s, dp, dr), ("grad_norm", s, gp, gr)]
    (sp, cp), (sr, cr) = probed("pt"), probed("rit")
    rows += [("sharpness", int(seed), sp, sr), ("grad_change", int(seed), cp, cr)]
    write_tsv(out, ["measure", "seed", "pt", "rit"], rows)


# xf-cka's value column per measure (Procrustes is a distance).
SIM_COLUMN = {"svcca": "svcca", "pwcca": "pwcca",
              "procrustes": "procrustes_distance"}


def similarity(adir, out, measures, names):
    """SVCCA, PWCCA and the Procrustes distance per module of each pair,
    from sim-MEASURE-PAIR.xfs (xf-cka --measure, --matched): one row per
    measure, pair and module, with the directions each side used; and per
    measure a wide table (module × pair) for the figure."""
    rows = []
    for m in measures.split():
        col = SIM_COLUMN[m]
        wide = {}
        for name in names:
            path = os.path.join(adir, "sim-%s-%s.xfs" % (m, name))
            for r in records(path):
                if r["a"] != r["b"]:
                    sys.exit("tables.py: %s: module %s against %s, want "
                             "matched modules" % (path, r["a"], r["b"]))
                if col not in r:
                    sys.exit("tables.py: %s: no %s column" % (path, col))
                rows.append((m, name, r["a"], r[col], r["n"], r["dims_a"],
                             r["dims_b"]))
                wide.setdefault(r["a"], {})[name] = r[col]
        first = [p for p in names if "." not in p]
        write_tsv(out.replace(".tsv", "-%s-wide.tsv" % m), ["module"] + first,
                  [[mod] + [v.get(p, float("nan")) for p in first]
                   for mod, v in wide.items()])
    write_tsv(out, ["measure", "pair", "module", "value", "n", "dims_a",
                    "dims_b"], rows)


def scores(sdir, names, out):
    """The transferability scores NAMES (comma-separated, as xf-eval
    --score takes them) of each checkpoint of P's series,
    SCORES_DIR/p-eE-sS.xfs, one row per checkpoint and score; a checkpoint
    xf-eval declined has p-eE-sS.unscored instead, and rows with value NaN
    and its message as status.  OUT-wide.tsv has one row per checkpoint and
    a column per score, for the figure."""
    names = names.split(",")
    rows = []
    for epoch, step, path, ext in series(sdir, ["xfs", "unscored"]):
        if ext == "unscored":
            why = open(path).read().strip().replace("\t", " ")
            rows += [(step, epoch, n, float("nan"), 0, 0,
                      "not scored: " + why) for n in names]
            continue
        rows += [(step, epoch, r["score"], r["value"], r["n"], r["features"],
                  "scored") for r in records(path)]
    rows.sort()
    write_tsv(out, ["pre_step", "pre_epoch", "score", "value", "n",
                    "features", "status"], rows)
    value = {(r[0], r[2]): r[3] for r in rows}
    write_tsv(out.replace(".tsv", "-wide.tsv"), ["pre_step"] + names,
              [[step] + [value.get((step, n), float("nan")) for n in names]
               for step in sorted({r[0] for r in rows})])


def hessian(adir, out):
    """The whole network's top eigenvalues and trace of P-T and RI-T
    (xf-hessian, hess-KIND.xfs), or, where hess-KIND.status says it was not
    measured, one row saying why (value NaN)."""
    rows = []
    for kind in ("pt", "rit"):
        status = open(os.path.join(adir, "hess-%s.status" % kind)).read().strip()
        if status != "measured":
            rows.append((kind, "none", 0, float("nan"), float("nan"), 0,
                         status.replace("\t", " ")))
            continue
        for r in records(os.path.join(adir, "hess-%s.xfs" % kind)):
            if r["module"] == "all":
                rows.append((kind, r["quantity"], r["index"], r["value"],
                             r["error"], r["steps"], "measured"))
    write_tsv(out, ["kind", "quantity", "index", "value", "error", "steps",
                    "status"], rows)


# study: (function, number of arguments; None for any number)
STUDIES = {
    "shuffle": (shuffle, 4),
    "checkpoints": (checkpoints, 4),
    "yosinski": (yosinski, 2),
    "mistakes": (mistakes, 2),
    "basins": (lambda adir, out, dist, *names: basins(adir, out, dist, names), None),
    "criticality": (criticality, 2),
    "landscape": (landscape, 4),
    "cka": (lambda adir, out, *names: cka(adir, out, list(names)), None),
    "similarity": (lambda adir, out, ms, *names:
                   similarity(adir, out, ms, list(names)), None),
    "scores": (scores, 3),
    "hessian": (hessian, 2),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in STUDIES:
        sys.exit("tables.py: unknown study %s" % (argv[1] if len(argv) > 1 else "(none)"))
    fn, nargs = STUDIES[argv[1]]
    args = argv[2:]
    if nargs is not None and len(args) != nargs:
        sys.exit("tables.py %s: want %d arguments, got %d" % (argv[1], nargs, len(args)))
    fn(*args)


if __name__ == "__main__":
    main(sys.argv)
