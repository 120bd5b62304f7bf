# Fuzzing: see tests/fuzz/README.md.
#
#   make fuzz [FUZZ_SECONDS=N] [FUZZ_TARGETS=stream] [FUZZ_DICT=file]
#                               libFuzzer (clang) on the stream and checkpoint
#                               readers, N seconds each, one after the other,
#                               starting from the committed corpus, with the
#                               msgpack dictionary (FUZZ_DICT= for none); new
#                               inputs and crashes go under $(FUZZ_WORK).
#   make fuzz-replay            the corpus and regression inputs through the
#                               plain replay driver and the ordinary libxf (no
#                               fuzzer runtime; make check does the same).
#   make fuzz-afl               the targets for AFL++ persistent mode, when
#                               afl-clang-fast is installed.
#   make fuzz-seeds             rewrite tests/fuzz/corpus with mkseeds.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_NICE    ?= 19
FUZZ_WORK    ?= $(or $(TMPDIR),/tmp)/xf-fuzz
FUZZ_TARGETS ?= stream ckpt npy image
# Type bytes, header, record and manifest keys, "xf-stream": see the file.
FUZZ_DICT    ?= tests/fuzz/msgpack.dict
# Only the readers' and writers' sources, so half-written lib files elsewhere
# do not stop a fuzz build.
FUZZ_LIB_SRC  = lib/err.c lib/msgcheck.c lib/stream.c lib/render.c lib/outfile.c \
                lib/writer.c lib/ckpt.c lib/npy.c lib/imgdecode.c
FUZZ_OBJ      = $(FUZZ_LIB_SRC:lib/%.c=tests/fuzz/obj/%.o)
FUZZ_CFLAGS   = -O1 -g -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall \
                -Wextra -Wno-unused-parameter -Ilib
FUZZ_SAN      = address,undefined -fno-sanitize-recover=all
FUZZ_LIBS     = -larchive -lmsgpackc -lpng -ljpeg -lm
FUZZ_OPTS     = -max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=512 \
                -rss_limit_mb=1024 -max_len=1048576 -timeout=10 \
                -print_final_stats=1 $(if $(FUZZ_DICT),-dict=$(FUZZ_DICT))
FUZZ_BIN      = $(FUZZ_TARGETS:%=tests/fuzz/fuzz_%.bin)
REPLAY_BIN    = $(FUZZ_TARGETS:%=tests/fuzz/replay_%.bin)

tests/fuzz/obj/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p tests/fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

tests/fuzz/fuzz_%.bin: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DXF_LIBFUZZER -fsanitize=fuzzer,$(FUZZ_SAN) \
	    -o $@ $< \
	    $(FUZZ_OBJ) $(FUZZ_LIBS)

# The replay drivers use the ordinary compiler, flags and libxf, so under
# make SAN=1 they run with ASan and UBSan too.
tests/fuzz/replay_%.bin: tests/fuzz/replay.c tests/fuzz/fuzz_%.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ tests/fuzz/replay.c \
	    tests/fuzz/fuzz_$*.c libxf.a $(LDLIBS)

fuzz: $(FUZZ_BIN)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_WORK)/$$t || exit 1; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s, new inputs in $(FUZZ_WORK)/$$t"; \
	    nice -n $(FUZZ_NICE) ./tests/fuzz/fuzz_$$t.bin $(FUZZ_OPTS) \
	        -artifact_prefix=$(FUZZ_WORK)/$$t- $(FUZZ_WORK)/$$t \
	        tests/fuzz/corpus/$$t tests/fuzz/regress/$$t || exit 1; \
	done

fuzz-replay: $(REPLAY_BIN)
	@for t in $(FUZZ_TARGETS); do \
	    ./tests/fuzz/replay_$$t.bin tests/fuzz/corpus/$$t \
	        tests/fuzz/regress/$$t || exit 1; \
	done

# AFL++: afl-clang-fast defines __AFL_HAVE_MANUAL_CONTROL, which turns on
# the persistent-mode main at the end of each target.
fuzz-afl:
	@command -v afl-clang-fast >/dev/null || \
	    { echo "fuzz-afl: afl-clang-fast not found"; exit 1; }
	for t in $(FUZZ_TARGETS); do \
	    AFL_USE_ASAN=1 AFL_USE_UBSAN=1 afl-clang-fast $(FUZZ_CFLAGS) \
	        -o tests/fuzz/fuzz_$$t.afl.bin tests/fuzz/fuzz_$$t.c \
	        $(FUZZ_LIB_SRC) $(FUZZ_LIBS) || exit 1; \
	done

fuzz-seeds: tests/fuzz/mkseeds.bin
	./tests/fuzz/mkseeds.bin tests/fuzz/corpus

tests/fuzz/mkseeds.bin: tests/fuzz/mkseeds.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)

.SECONDARY: $(FUZZ_OBJ)

# The manifest as xf reads it, for tests/tool/differential.sh.
tests/fuzz/manifest_json.bin: tests/fuzz/manifest_json.c libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@ $< libxf.a $(LDLIBS)

# make check replays the corpus (tests/tool/fuzz-replay.sh) and compares it
# with Python's msgpack (tests/tool/differential.sh).
check check-unit: $(REPLAY_BIN) tests/fuzz/manifest_json.bin

.PHONY: fuzz fuzz-replay fuzz-afl fuzz-seeds
