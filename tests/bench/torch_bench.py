#!/usr/bin/python3
"""PyTorch baseline for `make bench`: the xf presets as torch.nn models.

Prints one line per preset, tab-separated, for bench_nn to read:
    model  train_img_s  eval_img_s  train_gflop_s  eval_gflop_s
Batch 128, 28x28x1 input, 10 classes, SGD with momentum, torch.set_num_threads(2)
unless -j says otherwise.  FLOPs count multiply-adds as two, forward only for
eval, forward + input grads + weight grads for training (no input grad for the
first layer), the same count bench_nn uses.
"""
import argparse
import sys
import time

import torch
import torch.nn as nn


def make(name, c=1, h=28, w=28, classes=10):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 512), nn.ReLU(),
                             nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, classes))
    width = {"cnn": (32, 64, 256), "cnn-s": (16, 32, 128),
             "cnn-bn": (32, 64, 256)}[name]
    bn = name == "cnn-bn"
    layers, cin = [], c
    for i, oc in enumerate((width[0], width[0], width[1], width[1])):
        layers.append(nn.Conv2d(cin, oc, 3, padding=1))
        if bn:
            layers.append(nn.BatchNorm2d(oc))
        layers.append(nn.ReLU())
        if i in (1, 3):
            layers.append(nn.MaxPool2d(2))
        cin = oc
    layers += [nn.Flatten(), nn.Linear(cin * (h // 4) * (w // 4), width[2]),
               nn.ReLU(), nn.Linear(width[2], classes)]
    return nn.Sequential(*layers)


def flops(model, c=1, h=28, w=28):
    """Forward and training FLOPs per image."""
    fwd = first = 0
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            f = 2 * m.out_channels * m.in_channels * 9 * h * w
            if first == 0:
                first = f
            fwd += f
        elif isinstance(m, nn.Linear):
            f = 2 * m.in_features * m.out_features
            if first == 0:
                first = f
            fwd += f
        elif isinstance(m, nn.MaxPool2d):
            h, w = h // 2, w // 2
    return fwd, 3 * fwd - first


def rate(step, batch, seconds):
    step()
    step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("-b", type=int, default=128)
    ap.add_argument("-s", type=float, default=2.0, help="seconds per measure")
    ap.add_argument("models", nargs="*",
                    default=["mlp", "cnn", "cnn-s", "cnn-bn"])
    a = ap.parse_args()
    torch.set_num_threads(a.j)
    torch.manual_seed(1)
    x = torch.rand(a.b, 1, 28, 28)
    y = torch.randint(0, 10, (a.b,))
    for name in a.models:
        model = make(name)
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
        model.eval()
        ev = rate(evaluate, a.b, a.s)
        fwd, trf = flops(model)
        print("%s\t%.0f\t%.0f\t%.1f\t%.1f" % (name, tr, ev, tr * trf / 1e9,
                                               ev * fwd / 1e9))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
