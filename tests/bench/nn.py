#!/usr/bin/python3
"""The nn part of `make bench`: xf against PyTorch, interleaved.

    nn.py [-qx] [-r reps] [-s seconds] [-j threads] [-b batch] [PRESET[@CxHxW] ...]

For each preset (default: mlp, cnn, cnn-s, cnn-bn, resnet-8 and resnet-20
on 1x28x28, resnet-20 on 3x32x32), runs the BLIS sgemm ceiling
(bench_nn -g), then xf (bench_nn), then PyTorch (torch_bench.py), each in
its own process, reps times over (A B A B ...), so a change of load on a
shared machine hits both sides of a pair alike.  Prints per preset the
medians of xf's and PyTorch's images/s, the median of the per-pair ratios
xf / PyTorch with their range, xf's training GFLOP/s as a share of the
ceiling measured just before its pair (median), and the peak RSS of
training on each side (median), then the ceiling's median and range.
With -x, or without an importable torch, xf only: the PyTorch columns
are "-".
-q (or BENCH_QUICK=1): 2 reps of 0.05 s on mlp and resnet-8, to test the
mechanism in seconds; its numbers mean nothing.
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
PRESETS = ["mlp", "cnn", "cnn-s", "cnn-bn", "resnet-8", "resnet-20",
           "resnet-20@3x32x32"]
QUICK = ["mlp", "resnet-8@3x32x32"]


def run(cmd):
    """The fields of the one line cmd prints."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        sys.exit("nn.py: %s: exit %d" % (" ".join(cmd), p.returncode))
    return p.stdout.split("\n")[0].split("\t")


def spread(v, fmt):
    """median [min-max] of v."""
    if not v:
        return "-"
    return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(v),
                                                   min(v), max(v))


def med(v, fmt):
    return fmt % statistics.median(v) if v else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-q", action="store_true", help="quick: a test")
    ap.add_argument("-x", action="store_true", help="xf only")
    ap.add_argument("-r", type=int, default=3, help="pairs per preset")
    ap.add_argument("-s", type=float, default=2.0, help="seconds per measure")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("-b", type=int, default=128)
    ap.add_argument("presets", nargs="*")
    a = ap.parse_args()
    if a.q or os.environ.get("BENCH_QUICK", "") not in ("", "0"):
        a.r, a.s, a.presets = 2, 0.05, a.presets or QUICK
    presets = a.presets or PRESETS
    torch = not a.x and subprocess.run([PY, "-c", "import importlib.util as u; "
                            "exit(u.find_spec('torch') is None)"]).returncode == 0
    common = ["-j", str(a.j), "-s", str(a.s)]
    xf = [os.path.join(HERE, "bench_nn")] + common + ["-b", str(a.b)]
    pt = [PY, os.path.join(HERE, "torch_bench.py")] + common + ["-b", str(a.b)]
    ceilings, blis = [], None
    print("batch %d, %d threads, %d pairs of %g s per measure, 10 classes; "
          "medians, per-pair ratios xf/PyTorch as median [min-max]%s"
          % (a.b, a.j, a.r, a.s, "" if torch else "; xf only"))
    print("%-18s %8s %8s %-18s %6s %8s %8s %-18s %7s %7s" % (
        "preset@input", "xf-tr/s", "pt-tr/s", "train xf/pt", "%ceil",
        "xf-ev/s", "pt-ev/s", "eval xf/pt", "xf-MB", "pt-MB"))
    sys.stdout.flush()
    for p in presets:
        name, _, shape = p.partition("@")
        shape = shape or "1x28x28"
        v = {k: [] for k in ("xt", "xe", "xm", "tt", "te", "tm", "rt", "re",
                             "pc")}
        for _ in range(a.r):
            g = run(xf[:1] + ["-g"] + common)
            blis = blis or g[2:]
            ceil = float(g[1])
            ceilings.append(ceil)
            x = run(xf + ["-i", shape, name])
            v["xt"].append(float(x[3]))
            v["xe"].append(float(x[4]))
            v["xm"].append(int(x[5]) / 1024)
            v["pc"].append(100 * float(x[6]) / ceil)
            if torch:
                t = run(pt + ["-i", shape, name])
                v["tt"].append(float(t[3]))
                v["te"].append(float(t[4]))
                v["tm"].append(int(t[5]) / 1024)
                v["rt"].append(v["xt"][-1] / v["tt"][-1])
                v["re"].append(v["xe"][-1] / v["te"][-1])
        print("%-18s %8s %8s %-18s %6s %8s %8s %-18s %7s %7s" % (
            name + "@" + shape, med(v["xt"], "%.0f"), med(v["tt"], "%.0f"),
            spread(v["rt"], "%.2f"), med(v["pc"], "%.1f"),
            med(v["xe"], "%.0f"), med(v["te"], "%.0f"),
            spread(v["re"], "%.2f"), med(v["xm"], "%.0f"),
            med(v["tm"], "%.0f")))
        sys.stdout.flush()
    print("sgemm 2048^3 ceiling (BLIS %s, arch %s, %s): %s GFLOP/s over %d "
          "measures, one before each pair" % (blis[0], blis[1], blis[2],
                                              spread(ceilings, "%.1f"),
                                              len(ceilings)))


if __name__ == "__main__":
    main()
