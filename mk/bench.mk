# make bench: speed of the nn engine against the sgemm ceiling, and against
# PyTorch when Debian's python3-torch is importable by /usr/bin/python3
# (torch_bench.py's table goes to a temporary file that bench_nn -t reads).
# Never part of make check: timings are not pass or fail.  Run it on a quiet
# machine: other processes on the 2 cores halve every number.
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
