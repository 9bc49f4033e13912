# fpq - top-level Makefile.
#
#   make               libfpq.a and libfpq.so.0 into lib/
#   make check         build and run the test suite (and replay the fuzz corpora: check-corpus)
#   make demo          run the demo on its built-in synthetic data
#   make bench         build and run the benchmarks
#   make install       PREFIX=/usr/local DESTDIR= (uninstall removes the same files)
#   make amalgamation  lib/fpq_single.h, the single header (python3; docs/single-header.md)
#   make clean
#
# CC, CFLAGS and LDFLAGS given on the command line are added to the flags the build needs
# (after them, so `CFLAGS='-O1 -g -fsanitize=address'` wins over the default -O2).
# OPENMP=auto (default) uses OpenMP when $(CC) supports -fopenmp; OPENMP=0 or 1 forces it.
# WERROR=0 turns warnings back into warnings (they are errors by default, as in CI).

VERSION_MAJOR := 0
VERSION := 0.2.0

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
AR ?= ar
CFLAGS ?=
LDFLAGS ?=
OPENMP ?= auto
WERROR ?= 1
BUILDDIR ?= build
# Where the libraries go; several checkouts' worth of builds can share a tree with
# BUILDDIR=b2 LIBOUT=b2/lib.
LIBOUT ?= lib

ifeq ($(OPENMP),auto)
OPENMP := $(shell printf 'int main(void){return 0;}\n' | \
	$(CC) -fopenmp -x c - -o /dev/null >/dev/null 2>&1 && echo 1 || echo 0)
endif

# The flags every object needs; meson.build sets the same ones.
BASE_CFLAGS := -std=c99 -O2 -Wall -Wextra -Wpedantic -ffp-contract=off -fvisibility=hidden \
	-fPIC -Iinclude
ifeq ($(WERROR),1)
BASE_CFLAGS += -Werror
endif
ifeq ($(OPENMP),1)
BASE_CFLAGS += -fopenmp
BASE_LDFLAGS := -fopenmp
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(BASE_LDFLAGS) $(CFLAGS) $(LDFLAGS)
LIBS := -lm

# Every file under src/ is part of the library (meson.build lists them by name).
LIB_SRC := $(sort $(wildcard src/*.c) $(wildcard src/kernels/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILDDIR)/%.o)
LIB_HDR := include/fpq.h $(wildcard src/*.h) $(wildcard src/kernels/*.h)

TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILDDIR)/%.o)

STATIC_LIB := $(LIBOUT)/libfpq.a
SHARED_LIB := $(LIBOUT)/libfpq.so.$(VERSION)
SHARED_SONAME := libfpq.so.$(VERSION_MAJOR)
# Exports only fpq_* (version node FPQ_0); docs/abi.md.
SHARED_MAP := src/fpq.map

.PHONY: all check check-corpus demo bench install uninstall clean amalgamation

all: $(STATIC_LIB) $(SHARED_LIB) $(BUILDDIR)/fpq.pc

$(BUILDDIR)/%.o: %.c $(LIB_HDR) tests/fpq_test.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(STATIC_LIB): $(LIB_OBJ)
	@mkdir -p $(LIBOUT)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(SHARED_LIB): $(LIB_OBJ) $(SHARED_MAP)
	@mkdir -p $(LIBOUT)
	$(CC) -shared -Wl,-soname,$(SHARED_SONAME) -Wl,--version-script=$(SHARED_MAP) \
	    $(ALL_LDFLAGS) $(LIB_OBJ) -o $@ $(LIBS)
	ln -sf libfpq.so.$(VERSION) $(LIBOUT)/$(SHARED_SONAME)
	ln -sf $(SHARED_SONAME) $(LIBOUT)/libfpq.so

$(BUILDDIR)/fpq.pc: pkgconfig/fpq.pc.in Makefile
	@mkdir -p $(BUILDDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|-lm$(if $(filter 1,$(OPENMP)), -fopenmp,)|' $< > $@

$(BUILDDIR)/fpq_tests: $(TEST_OBJ) $(STATIC_LIB)
	$(CC) $(ALL_LDFLAGS) $(TEST_OBJ) $(STATIC_LIB) -o $@ $(LIBS)

check: $(BUILDDIR)/fpq_tests $(BUILDDIR)/quickstart check-corpus
	$(BUILDDIR)/quickstart >/dev/null
	$(BUILDDIR)/fpq_tests tests/data

# The fuzz harnesses' committed corpora (tests/fuzz/corpus/<harness>/, the regression inputs
# of fixed defects included), each replayed through its harness without libFuzzer
# (tests/fuzz/replay_main.c): every invariant the harness checks applies to every file.
FUZZ_HARNESSES := $(patsubst tests/fuzz/%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_REPLAY := $(FUZZ_HARNESSES:%=$(BUILDDIR)/fuzz/replay_%)

$(FUZZ_REPLAY): $(BUILDDIR)/fuzz/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c \
		$(wildcard tests/fuzz/*.h) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $< tests/fuzz/replay_main.c $(STATIC_LIB) -o $@ $(LIBS)

check-corpus: $(FUZZ_REPLAY)
	@set -e; for h in $(FUZZ_HARNESSES); do \
	    log=$(BUILDDIR)/fuzz/$$h.log; \
	    if ! $(BUILDDIR)/fuzz/replay_$$h tests/fuzz/corpus/$$h >$$log 2>&1; then \
	        tail -n 40 $$log; echo "corpus replay FAILED: $$h (the last input named above)"; \
	        exit 1; \
	    fi; \
	    echo "corpus $$h: $$(tail -n 1 $$log)"; \
	done

# The README's example: compiled and run so that it stays true.
$(BUILDDIR)/quickstart: examples/quickstart.c $(STATIC_LIB)
	@mkdir -p $(BUILDDIR)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $< $(STATIC_LIB) -o $@ $(LIBS)

# The demo: demo.c and its sections examples/demo_*.c.
DEMO_SRC := $(sort $(wildcard examples/demo*.c))

$(BUILDDIR)/demo: $(DEMO_SRC) examples/demo.h $(STATIC_LIB)
	@mkdir -p $(BUILDDIR)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(DEMO_SRC) $(STATIC_LIB) -o $@ $(LIBS)

demo: $(BUILDDIR)/demo
	$(BUILDDIR)/demo

# Each tests/bench/*.c is one benchmark program; `make bench` runs them in turn.
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILDDIR)/%,$(sort $(wildcard tests/bench/*.c)))

$(BENCH_BIN): $(BUILDDIR)/%: tests/bench/%.c $(STATIC_LIB)
	@mkdir -p $(BUILDDIR)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $< $(STATIC_LIB) -o $@ $(LIBS)

bench: $(BENCH_BIN)
	@set -e; for b in $(BENCH_BIN); do echo "== $$b"; $$b; done

# The single header, generated from the sources (not committed: docs/single-header.md says why).
amalgamation: $(LIBOUT)/fpq_single.h

$(LIBOUT)/fpq_single.h: tools/amalgamate.py $(LIB_SRC) $(LIB_HDR)
	python3 tools/amalgamate.py -o $@

install: all
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/fpq.h $(DESTDIR)$(INCLUDEDIR)/fpq.h
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/libfpq.a
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/libfpq.so.$(VERSION)
	ln -sf libfpq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SHARED_SONAME)
	ln -sf $(SHARED_SONAME) $(DESTDIR)$(LIBDIR)/libfpq.so
	install -m 644 $(BUILDDIR)/fpq.pc $(DESTDIR)$(PKGCONFIGDIR)/fpq.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/fpq.h $(DESTDIR)$(LIBDIR)/libfpq.a \
	      $(DESTDIR)$(LIBDIR)/libfpq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SHARED_SONAME) \
	      $(DESTDIR)$(LIBDIR)/libfpq.so $(DESTDIR)$(PKGCONFIGDIR)/fpq.pc

clean:
	rm -rf $(BUILDDIR) $(LIBOUT)/libfpq.a $(LIBOUT)/libfpq.so $(LIBOUT)/libfpq.so.* \
	    $(LIBOUT)/fpq_single.h
