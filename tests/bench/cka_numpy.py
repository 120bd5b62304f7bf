"""cka_numpy.py: the reference timing for bench_cka.

Linear CKA in the Gram form with the formulas of the google-research
representation_similarity demo (gram_linear, center_gram, cka), written out
here in numpy, on random float32 activations of the bench's size.  Prints
the seconds on stdout, one number, for `bench_cka -r`.

    /usr/bin/python3 tests/bench/cka_numpy.py [n] [p] [threads]

Run with Debian's python3-numpy, which links the same BLIS as libxf.  The
BLIS settings mirror bench_cka: BLIS_NUM_THREADS, and the skx kernels on an
AVX-512 CPU unless BLIS_ARCH_TYPE is set, so the ratio compares code, not
kernels.  The demo's np.allclose(gram, gram.T) symmetry check is left out;
it only makes numpy slower.
"""
import os
import sys
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
p = int(sys.argv[2]) if len(sys.argv) > 2 else 25088
threads = sys.argv[3] if len(sys.argv) > 3 else "2"

os.environ.setdefault("BLIS_NUM_THREADS", threads)
with open("/proc/cpuinfo") as f:
    if " avx512f" in f.read():
        os.environ.setdefault("BLIS_ARCH_TYPE", "skx")

import numpy as np  # noqa: E402  (BLIS reads its environment at load)


def gram_linear(x):
    return x.dot(x.T)


def center_gram(gram):
    gram = gram.copy()
    means = np.mean(gram, 0, dtype=np.float64)
    means -= np.mean(means) / 2
    gram -= means[:, None]
    gram -= means[None, :]
    return gram


def cka(gram_x, gram_y):
    gram_x = center_gram(gram_x)
    gram_y = center_gram(gram_y)
    scaled_hsic = gram_x.ravel().dot(gram_y.ravel())
    return scaled_hsic / (np.linalg.norm(gram_x) * np.linalg.norm(gram_y))


rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, size=(n, p)).astype(np.float32)
y = (0.6 * x + 0.8 * rng.uniform(-1, 1, size=(n, p))).astype(np.float32)
t = time.perf_counter()
value = cka(gram_linear(x), gram_linear(y))
t = time.perf_counter() - t
print("%.3f" % t)
print("numpy linear CKA n=%d p=q=%d: %.2f s, cka %.6f" % (n, p, t, value),
      file=sys.stderr)
