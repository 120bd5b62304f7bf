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

# make accuracy: the accuracy benchmarks on real data (README, "Accuracy").
accuracy: all
	tests/bench/accuracy.sh
.PHONY: accuracy
