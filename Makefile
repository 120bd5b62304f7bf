# xf: what is transferred in transfer learning, as Unix tools.
# make | make deps | make check | make bench | make install PREFIX=... | make demo

PREFIX  ?= /usr/local
CC      ?= cc
CFLAGS  ?= -O2 -g
ARCH_FLAGS ?= -march=x86-64-v3
BLIS_INC ?= /usr/include/x86_64-linux-gnu/blis-pthread
BLIS_LIB ?= /usr/lib/x86_64-linux-gnu/blis-pthread

# libvips (and its glib) for xf-import's --resize; libjpeg-turbo for JPEG.
VIPS_CFLAGS := $(shell pkg-config --cflags vips 2>/dev/null)
VIPS_LIBS   := $(shell pkg-config --libs vips 2>/dev/null || echo -lvips -lgobject-2.0 -lglib-2.0)

XF_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
            $(ARCH_FLAGS) -pthread -Ilib -isystem $(BLIS_INC) $(SAN_FLAGS) \
            $(VIPS_CFLAGS)
LDLIBS    = -L$(BLIS_LIB) -Wl,-rpath,$(BLIS_LIB) -lblis -llapacke -larchive -lmsgpackc \
            -lpng -ljpeg $(VIPS_LIBS) -lz -lm -pthread

# make SAN=1 check: everything under ASan and UBSan.  A sanitizer report
# exits 86, so a test that expects exit 1 for bad data cannot mistake one
# for a clean refusal.  XF_SAN=1 tells tests whose memory bounds ASan's
# shadow memory breaks.
ifeq ($(SAN),1)
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS    = -O1 -g
export ASAN_OPTIONS  = exitcode=86:detect_leaks=1
export UBSAN_OPTIONS = exitcode=86:print_stacktrace=1
export XF_SAN        = 1
endif

# .build-flags holds the compiler and flags of the last build.  Objects
# depend on it, so a build with other flags (SAN=1, CFLAGS=...) recompiles
# everything rather than linking objects built the old way.  Its recipe
# always runs but rewrites the file only when the flags differ.
BUILD_FLAGS = $(CC) $(CFLAGS) $(XF_CFLAGS) $(LDLIBS)

LIB_SRC   = $(wildcard lib/*.c)
LIB_OBJ   = $(LIB_SRC:.c=.o)
LIB_HDR   = $(wildcard lib/*.h)
TOOLS     = $(patsubst tools/%.c,bin/%,$(wildcard tools/xf-*.c))
UNIT      = $(patsubst tests/unit/%.c,tests/unit/%.t,$(wildcard tests/unit/*.c))
MAN1      = $(wildcard man/man1/*.1)
MAN5      = $(wildcard man/man5/*.5)

all: libxf.a $(TOOLS) bin/torch2xf.py

# The Python converter, on PATH beside the tools (it imports xf2torch from
# the directory it really lives in).
bin/torch2xf.py: tools/torch2xf.py
	@mkdir -p bin
	ln -sf ../tools/torch2xf.py $@

.build-flags: FORCE
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@

lib/%.o: lib/%.c $(LIB_HDR) .build-flags
	$(CC) $(CFLAGS) $(XF_CFLAGS) -c -o $@ $<

# Outputs are built beside their target and renamed over it, so a tool or
# library is never seen half-written by a pipeline running at the time.
libxf.a: $(LIB_OBJ)
	rm -f $@.tmp
	ar rcs $@.tmp $(LIB_OBJ)
	mv -f $@.tmp $@

tools/tool.o: tools/tool.c tools/tool.h $(LIB_HDR) .build-flags
	$(CC) $(CFLAGS) $(XF_CFLAGS) -c -o $@ $<

bin/%: tools/%.c tools/tool.o tools/tool.h libxf.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(XF_CFLAGS) -o $@.tmp $< tools/tool.o libxf.a $(LDLIBS)
	mv -f $@.tmp $@

tests/unit/%.t: tests/unit/%.c $(wildcard tests/*.h) libxf.a
	$(CC) $(CFLAGS) $(XF_CFLAGS) -Itests -o $@ $< libxf.a $(LDLIBS)

include mk/deps.mk
include mk/check.mk
-include mk/fuzz.mk
-include mk/bench.mk

# The main job: the quick-scale experiments on real data and the report
# (pipelines/README.md); make paper for the full scale.
# They build with every core first: a serial build is half a minute.
NPROC := $(shell nproc 2>/dev/null || echo 1)
demo: build-all
	$(MAKE) -C pipelines demo
paper: build-all
	$(MAKE) -C pipelines paper
build-all:
	$(MAKE) -j$(NPROC) all

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	           $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(TOOLS) tools/torch2xf.py tools/xf2torch.py \
	    $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5

clean:
	rm -rf bin libxf.a lib/*.o tools/*.o tests/unit/*.t tests/fuzz/*.bin \
	    tests/bench/bench_measures \
	    tests/fuzz/obj .build-flags

FORCE:

.PHONY: all build-all install clean demo paper FORCE
