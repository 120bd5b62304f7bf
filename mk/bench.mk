# make bench: speed of the nn engine against the 2-thread sgemm ceiling, and
# against PyTorch when Debian's python3-torch is importable by /usr/bin/python3
# (tests/bench/torch_bench.py writes tests/bench/torch.tsv for bench_nn -t).
# Never part of make check: timings are not pass/fail.
BENCH_PY = /usr/bin/python3

tests/bench/bench_nn: tests/bench/bench_nn.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)

bench: tests/bench/bench_nn
	@if $(BENCH_PY) -c 'import torch' 2>/dev/null; then \
	  echo "PyTorch (torch_bench.py, 2 threads)..."; \
	  $(BENCH_PY) tests/bench/torch_bench.py -j 2 > tests/bench/torch.tsv; \
	  tests/bench/bench_nn -j 2 -t tests/bench/torch.tsv; \
	else \
	  echo "no python3-torch: xf only"; \
	  tests/bench/bench_nn -j 2; \
	fi

.PHONY: bench
