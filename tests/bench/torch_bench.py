#!/usr/bin/python3
"""PyTorch's side of one measurement for tests/bench/nn.py.

    torch_bench.py [-j threads] [-b batch] [-s seconds] [-i CxHxW] model

Builds the xf preset or spec as torch.nn through tools/xf2torch.py's XfNet
(the same network xf builds), on random images of the given shape (default
1x28x28), 10 classes, and times training steps (SGD with momentum 0.9,
weight decay 5e-4, as bench_nn) then eval forwards under no_grad, each for
the given seconds after two warm-up steps, with torch.set_num_threads.
Prints one line, tab-separated, as bench_nn does:
    torch  model  CxHxW  train-img/s  eval-img/s  peak-RSS-KB  -  -
The peak RSS is the process's (torch's runtime included) after training.
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tools"))
import xf2torch  # noqa: E402


def rate(step, batch, seconds):
    step()
    step()
    n, t0 = 0, time.perf_counter()
    while n < 1 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("-b", type=int, default=128)
    ap.add_argument("-s", type=float, default=2.0, help="seconds per measure")
    ap.add_argument("-i", default="1x28x28", help="input CxHxW")
    ap.add_argument("model")
    a = ap.parse_args()
    shape = tuple(int(v) for v in a.i.split("x"))
    torch.set_num_threads(a.j)
    torch.manual_seed(1)
    x = torch.rand(a.b, *shape)
    y = torch.randint(0, 10, (a.b,))
    model = xf2torch.XfNet(a.model, shape, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    lossf = nn.CrossEntropyLoss()

    def train():
        opt.zero_grad()
        lossf(model(x), y).backward()
        opt.step()

    def evaluate():
        with torch.no_grad():
            model(x)

    model.train()
    tr = rate(train, a.b, a.s)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.eval()
    ev = rate(evaluate, a.b, a.s)
    print("torch\t%s\t%s\t%.1f\t%.1f\t%d\t-\t-" % (a.model, a.i, tr, ev, rss))


if __name__ == "__main__":
    main()
