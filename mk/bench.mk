# make bench: speed of the nn engine against PyTorch (Debian's python3-torch,
# when /usr/bin/python3 can import it) and against the BLIS sgemm ceiling.
# tests/bench/nn.py runs, per preset, the ceiling, xf (bench_nn) and PyTorch
# (torch_bench.py), each in its own process, 3 times over, alternating, and
# prints medians, the per-pair ratios' median and range, and peak RSS.
# Never part of make check: timings are not pass or fail.  BENCH_QUICK=1
# tests the mechanism in seconds (tests/tool/bench.sh); its numbers mean
# nothing.
BENCH_PY = /usr/bin/python3

tests/bench/bench_nn: tests/bench/bench_nn.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)

bench-nn: tests/bench/bench_nn
	@BENCH_QUICK=$(BENCH_QUICK) $(BENCH_PY) tests/bench/nn.py -j 2 -b 128
bench: bench-nn
check: tests/bench/bench_nn	# for tests/tool/bench.sh

.PHONY: bench bench-nn

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

# ---- measures: SVCCA and PWCCA of 10,000 x 512 against 10,000 x 512,
# LogME on 10,000 x 128, the top Hessian eigenvalue of cnn-s on 1,000
# MNIST digits (cnn-s trained to ~96%; exact products, the R-op, beside
# torch's Lanczos on autograd's hvp); each beside numpy's or torch's on the same inputs
# (tests/bench/measures_ref.py), interleaved A B A B, three pairs, the
# median of each and of the ratios.  Targets: < 2 s, < 2 s, < 1 s, < 30 s.
BENCH_MEAS = tests/bench/measures-data
tests/bench/bench_measures: tests/bench/bench_measures.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)
bench-measures: tests/bench/bench_measures all
	@mkdir -p $(BENCH_MEAS)
	@tests/bench/bench_measures gen $(BENCH_MEAS)
	@bin/xf-import mnist --split train -n 1000 -s 1 -o $(BENCH_MEAS)/d.xfs
	@bin/xf-train -a cnn-s -e 20 -l 0.05 -s 1 -o $(BENCH_MEAS)/c.tar \
	  $(BENCH_MEAS)/d.xfs 2>/dev/null
	@for m in svcca pwcca logme hessian; do \
	  for r in 1 2 3; do \
	    if [ $$m = hessian ]; then \
	      s=$$(date +%s.%N); \
	      v=$$(bin/xf-hessian -j 2 -k 1 -m $(BENCH_MEAS)/c.tar \
	        $(BENCH_MEAS)/d.xfs | bin/xf-cat | awk -F'\t' 'NR == 2 { print $$5 }'); \
	      a="$$(echo "$$(date +%s.%N) $$s" | awk '{ printf "%.4f", $$1 - $$2 }') $$v"; \
	      b=$$($(BENCH_PY) tests/bench/measures_ref.py hessian \
	        $(BENCH_MEAS)/c.tar $(BENCH_MEAS)/d.xfs 2>/dev/null || echo "nan nan"); \
	    else \
	      a=$$(tests/bench/bench_measures $$m $(BENCH_MEAS)); \
	      b=$$(OMP_NUM_THREADS=2 $(BENCH_PY) tests/bench/measures_ref.py $$m \
	        $(BENCH_MEAS) 2>/dev/null || echo "nan nan"); \
	    fi; \
	    echo "$$m $$a $$b"; \
	  done; \
	done | tee /dev/stderr | awk '{ t[$$1] = t[$$1] " " $$2; r[$$1] = r[$$1] " " $$4; \
	    q[$$1] = q[$$1] " " ($$2 > 0 ? $$4 / $$2 : 0); v[$$1] = $$3; w[$$1] = $$5 } \
	  function med(s,  a, n, i, j, t) { n = split(s, a, " "); \
	    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) \
	      { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t } return a[int((n + 1) / 2)] } \
	  END { n = split("svcca pwcca logme hessian", o, " "); \
	    for (i = 1; i <= n; i++) { m = o[i]; \
	      printf "%-8s xf %7.3f s  ref %7.3f s  ref/xf %5.2f  (xf %.6g, ref %.6g)\n", \
	        m, med(t[m]), med(r[m]), med(q[m]), v[m], w[m] } }'
	@rm -rf $(BENCH_MEAS)
bench: bench-measures
.PHONY: bench-measures

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
