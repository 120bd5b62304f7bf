#!/usr/bin/python3
"""Turn a study's xf streams into TSV tables for gnuplot and the report.

Streams are read through `xf-cat --json`, one JSON object per line, so this
script needs no msgpack module and reads exactly what a person would see.

    tables.py shuffle RUNDIR FRACTION OUT.tsv CURVES.tsv
    tables.py yosinski RUNDIR OUT.tsv
    tables.py checkpoints RUNDIR PRELOG OUT.tsv
"""
import glob
import json
import os
import re
import subprocess
import sys


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
        rows.append((b, kind, seed, ev["acc"], ev["loss"],
                     speed(curve, float(fraction))))
        curves += [(b, kind, seed, s, a) for s, a in curve]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    curves.sort(key=lambda r: (-r[0], r[1], r[2], r[3]))
    write_tsv(out, ["b", "kind", "seed", "acc", "loss", "speed_steps"], rows)
    write_tsv(curves_out, ["b", "kind", "seed", "step", "val_acc"], curves)
    mean = []
    for b in sorted({r[0] for r in rows}, reverse=True):
        row = [b]
        for kind in ("pt", "rit"):
            accs = [r[3] for r in rows if r[0] == b and r[1] == kind]
            m = sum(accs) / len(accs)
            row += [m, min(accs), max(accs)]
        mean.append(row)
    write_tsv(out.replace(".tsv", "-mean.tsv"), ["b", "pt", "pt_min", "pt_max",
              "rit", "rit_min", "rit_max"], mean)


def checkpoints(rundir, predir, src_test, out):
    """Downstream accuracy of P-T from each pretraining checkpoint, against
    the checkpoint's step and its upstream (source test) accuracy."""
    rows = []
    # The series starts at step 0: θ0 is its first checkpoint.
    pat = re.compile(r"p-e(\d+)-s(\d+)\.eval\.xfs$")
    for path in sorted(glob.glob(os.path.join(rundir, "*.eval.xfs"))):
        m = pat.search(path)
        if not m:
            continue
        epoch, step = int(m.group(1)), int(m.group(2))
        ckpt = os.path.join(predir, os.path.basename(path)[:-len(".eval.xfs")]
                            + ".tar")
        up = subprocess.run(["xf-eval", "-m", ckpt, src_test], check=True,
                            capture_output=True).stdout
        upstream = json.loads(subprocess.run(
            ["xf-cat", "--json"], input=up, check=True,
            capture_output=True).stdout.decode().splitlines()[0])["acc"]
        down = records(path)[0]["acc"]
        rows.append((step, epoch, upstream, down))
    rows.sort()
    write_tsv(out, ["pre_step", "pre_epoch", "upstream_acc", "downstream_acc"],
              rows)


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
        rows.append((kind, n, seed, records(path)[0]["acc"]))
    rows.sort()
    write_tsv(out, ["kind", "n", "seed", "acc"], rows)
    kinds = ["AnB", "BnB", "AnB+", "BnB+", "rand", "dis"]
    ns = sorted({r[1] for r in rows if r[1] > 0})
    base = [r[3] for r in rows if r[0] == "baseB"]
    wide = []
    for n in ns:
        row = [n, sum(base) / len(base) if base else float("nan")]
        for k in kinds:
            accs = [r[3] for r in rows if r[0] == k and r[1] == n]
            row.append(sum(accs) / len(accs) if accs else float("nan"))
        wide.append(row)
    write_tsv(out.replace(".tsv", "-wide.tsv"), ["n", "baseB"] + kinds, wide)


def mistakes(pairs, out):
    """The pairs of xf-eval -m pt1 -m pt2 -m rit1 -m rit2 --pairs, which come
    in the order (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)."""
    recs = records(pairs)
    rows = []
    for name, k in (("ptpt", 0), ("ritrit", 5), ("ptrit", 1)):
        r = recs[k]
        rows.append((name, r["n"], r["both_right"], r["both_wrong"],
                     r["same_wrong"], r["only_a_wrong"], r["only_b_wrong"]))
    write_tsv(out, ["pair", "n", "both_right", "both_wrong", "same_wrong",
                    "only_a_wrong", "only_b_wrong"], rows)


def cka(adir, out, names):
    rows = []
    for name in names:
        for r in records(os.path.join(adir, "cka-%s.xfs" % name)):
            rows.append((name, r["a"], r["cka"], r["n"]))
    write_tsv(out, ["pair", "module", "cka", "n"], rows)
    modules = []
    for r in rows:
        if r[1] not in modules:
            modules.append(r[1])
    wide = [[m] + [next((r[2] for r in rows if r[0] == p and r[1] == m),
                        float("nan")) for p in names] for m in modules]
    write_tsv(out.replace(".tsv", "-wide.tsv"), ["module"] + names, wide)


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
    """Liu et al.'s measures for P-T and RI-T: distance from the starting
    weights at the end of fine-tuning, mean gradient norm over fine-tuning,
    sharpness along a random filter-normalised direction (mean loss rise at
    the ends, t = ±1), and the gradient change along the gradient."""
    v = {}
    for kind in ("pt", "rit"):
        log = records("%s-%s-s%s.log.xfs" % (prefix, kind, seed))
        last = log[-1]
        d2 = sum(val * val for k, val in last.items() if k.startswith("dist."))
        v.setdefault("distance", {})[kind] = d2 ** 0.5
        gn = [r["grad_norm"] for r in log]
        v.setdefault("grad_norm", {})[kind] = sum(gn) / len(gn)
        land = records(os.path.join(adir, "land-%s.xfs" % kind))
        mid = min(land, key=lambda r: abs(r["t"]))["loss"]
        ends = [r["loss"] for r in land if abs(abs(r["t"]) - 1) < 1e-9]
        v.setdefault("sharpness", {})[kind] = sum(ends) / len(ends) - mid
        grad = records(os.path.join(adir, "grad-%s.xfs" % kind))
        v.setdefault("grad_change", {})[kind] = max(r["grad_change"]
                                                    for r in grad)
    write_tsv(out, ["measure", "pt", "rit"],
              [(k, x["pt"], x["rit"]) for k, x in v.items()])


def main(argv):
    study = argv[1]
    if study == "shuffle":
        shuffle(*argv[2:6])
    elif study == "checkpoints":
        checkpoints(*argv[2:6])
    elif study == "yosinski":
        yosinski(*argv[2:4])
    elif study == "mistakes":
        mistakes(*argv[2:4])
    elif study == "basins":
        basins(argv[2], argv[3], argv[4], argv[5:])
    elif study == "criticality":
        criticality(argv[2], argv[3])
    elif study == "landscape":
        landscape(*argv[2:6])
    elif study == "cka":
        cka(argv[2], argv[3], argv[4:])
    else:
        sys.exit("tables.py: unknown study %s" % study)


if __name__ == "__main__":
    main(sys.argv)
