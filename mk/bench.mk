# make bench: speed of the nn engine against the sgemm ceiling, and against
# PyTorch when Debian's python3-torch is importable by /usr/bin/python3
# (torch_bench.py's table goes to a temporary file that bench_nn -t reads).
# Never part of make check: timings are not pass or fail.  Run it on a quiet
# machine: other processes on the 2 cores halve every number (on a busy one,
# tests/bench/bench_nn -m reports the fastest step instead of the mean).
BENCH_PY = /usr/bin/python3

tests/bench/bench_nn: tests/bench/bench_nn.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)

bench: tests/bench/bench_nn
	@if $(BENCH_PY) -c 'import torch' 2>/dev/null; then \
	  t=$$(mktemp) && \
	  echo "PyTorch (tests/bench/torch_bench.py, 2 threads)..." && \
	  $(BENCH_PY) tests/bench/torch_bench.py -j 2 > $$t && \
	  tests/bench/bench_nn -j 2 -t $$t; s=$$?; rm -f $$t; exit $$s; \
	else \
	  echo "no python3-torch: xf only"; \
	  tests/bench/bench_nn -j 2; \
	fi

.PHONY: bench

# ---- xf-critic speed (appended for xf-interp/xf-critic; separate target) ----
# Module criticality of cnn-s on 1,000 synthetic examples with 10 draws, on a
# 3x3 corner of the grid per module: cells/s per module, and the time the
# default 11x11 grid would take for all modules, scaled by forward passes
# (11·(1 + 10·10) = 1111 per module by default against 3·(1 + 2·10) = 63:
# the smallest σ is evaluated once, see xf-critic(1)).
BENCH_CRITIC = tests/bench/critic-data
bench-critic: all
	@mkdir -p $(BENCH_CRITIC)
	@bin/xf-import synthetic -n 1000 -s 1 -o $(BENCH_CRITIC)/d.xfs
	@bin/xf-train -a cnn-s --steps 20 -e 100 -b 64 -s 1 \
	  --save-init $(BENCH_CRITIC)/i.tar -o $(BENCH_CRITIC)/f.tar \
	  $(BENCH_CRITIC)/d.xfs
	@bin/xf-critic -v -j 2 --alphas 3 --sigmas 3 -k 10 \
	  --init $(BENCH_CRITIC)/i.tar -m $(BENCH_CRITIC)/f.tar \
	  $(BENCH_CRITIC)/d.xfs 2>&1 >/dev/null | awk '{ print } \
	  /cells\/s/ { match($$0, /, [0-9.]+ s,/); \
	    t += substr($$0, RSTART + 2, RLENGTH - 5) * 1111 / 63 } \
	  END { printf "xf-critic: default grid, all modules: about %.0f s\n", t }'

bench: bench-critic
.PHONY: bench-critic

# ---- CKA: n = 10,000 × 25,088 per side, minibatch n = 60,000 ----
# The numpy reference (published formulas, same BLIS) runs first, alone;
# bench_cka prints time, GFLOP/s, % of the sgemm ceiling and the ratio.
tests/bench/bench_cka: tests/bench/bench_cka.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)
bench-cka: tests/bench/bench_cka
	@r=$$($(BENCH_PY) tests/bench/cka_numpy.py 2>/dev/null || echo 0); \
	  tests/bench/bench_cka -r "$$r"
bench: bench-cka
.PHONY: bench-cka

# ---- streams: import Fashion-MNIST train, shuffle throughput, peak RSS ----
BENCH_DATA = tests/bench/data
bench-data: all
	@mkdir -p $(BENCH_DATA)
	@/usr/bin/time -f "xf-import fashion-mnist train (60k): %e s, peak RSS %M KB" \
	  bin/xf-import fashion-mnist --split train -o $(BENCH_DATA)/fm.xfs
	@s=$$(stat -c %s $(BENCH_DATA)/fm.xfs); \
	  /usr/bin/time -f "%e %M" -o $(BENCH_DATA)/t bin/xf-shuffle -b 7 -s 1 \
	    -o $(BENCH_DATA)/sh.xfs $(BENCH_DATA)/fm.xfs; \
	  read t m < $(BENCH_DATA)/t; \
	  echo "xf-shuffle -b 7 on it: $$t s, $$(echo "$$s $$t" | awk '{ printf "%.0f", $$1 / 1e6 / ($$2 > 0.005 ? $$2 : 0.005) }') MB/s, peak RSS $$m KB"
	@rm -rf $(BENCH_DATA)
bench: bench-data
.PHONY: bench-data

# make accuracy: the accuracy benchmarks on real data (README, "Accuracy").
accuracy: all
	tests/bench/accuracy.sh
.PHONY: accuracy

# ---- xf-align: a 512x512 assignment (goal < 50 ms), weight matching of
# cnn (goal < 1 s); fastest and median of 5 runs ----
tests/bench/bench_align: tests/bench/bench_align.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)
bench-align: tests/bench/bench_align
	@tests/bench/bench_align -t 2
bench: bench-align
.PHONY: bench-align

# ---- xf-import folder: 10,000 32x32 PNGs (10 classes), images/s, peak RSS ----
# The PNGs (random colour images, drawn by PIL) go to a scratch folder under
# $TMPDIR, removed after.  Goal: 5,000 images/s or more, in a few MB.  The
# rate per CPU second (user + system) is the one a busy machine does not move.
bench-import: all
	@d=$$(mktemp -d "$${TMPDIR:-/tmp}/xf-bench-import.XXXXXX") && \
	  $(BENCH_PY) -c 'import os, sys, numpy as np; from PIL import Image; \
	    r = np.random.default_rng(1); \
	    [os.makedirs("%s/f/c%d" % (sys.argv[1], c)) for c in range(10)]; \
	    [Image.fromarray(r.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save( \
	      "%s/f/c%d/%04d.png" % (sys.argv[1], k % 10, k)) for k in range(10000)]' \
	    "$$d" && \
	  /usr/bin/time -f "%e %U %S %M" -o "$$d/t" bin/xf-import folder "$$d/f" \
	    -o "$$d/f.xfs" && read t u s m < "$$d/t" && \
	  echo "xf-import folder, 10,000 32x32 PNGs: $$t s, $$(echo "$$t $$u $$s" | \
	    awk '{ c = $$2 + $$3; printf "%.0f images/s (%.0f per CPU second)", \
	      10000 / ($$1 > 0.005 ? $$1 : 0.005), 10000 / (c > 0.005 ? c : 0.005) }'), peak RSS $$m KB"; \
	  s=$$?; rm -rf "$$d"; exit $$s
bench: bench-import
.PHONY: bench-import
