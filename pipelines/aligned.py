#!/usr/bin/python3
"""The basins study after permutation alignment (xf-align, issue 13): per
pair of runs of one kind, the barrier of the line from A to B and from A to
B aligned to A by weight matching, the weight inner products the alignment
reached, and the endpoints' ensemble at the midpoint.

    aligned.py ADIR OUT.tsv PAIR...      PAIR: KIND-sI-sJ, e.g. rit-s1-s2

ADIR/PAIR-raw.sum.xfs, PAIR-aligned.sum.xfs (xf-interp summaries),
PAIR-raw.xfs (its points) and PAIR.log.xfs (xf-align's table) are read.
"""
import os
import sys

from tables import records, write_tsv


def midpoint(points, key):
    """key at the λ closest to 0.5."""
    return min(points, key=lambda p: abs(p["lambda"] - 0.5))[key]


def main(argv):
    adir, out, pairs = argv[1], argv[2], argv[3:]
    rows = []
    for pair in pairs:
        kind, si, sj = pair.split("-")
        path = lambda suffix: os.path.join(adir, pair + suffix)
        raw = records(path("-raw.sum.xfs"))[0]
        al = records(path("-aligned.sum.xfs"))[0]
        pts = records(path("-raw.xfs"))
        apts = records(path("-aligned.xfs"))
        total = [r for r in records(path(".log.xfs"))
                 if r["layer"] == "total"][0]
        rows.append((kind, si[1:], sj[1:], raw["barrier"], al["barrier"],
                     raw["barrier_loss"], al["barrier_loss"],
                     midpoint(pts, "error"), midpoint(apts, "error"),
                     midpoint(pts, "ens_error"), total["before"],
                     total["after"], total["moved"], total["units"]))
    write_tsv(out, ["kind", "seed_a", "seed_b", "barrier", "barrier_aligned",
                    "barrier_loss", "barrier_loss_aligned", "error_mid",
                    "error_mid_aligned", "ens_error_mid", "inner",
                    "inner_aligned", "moved", "units"], rows)


if __name__ == "__main__":
    main(sys.argv)
