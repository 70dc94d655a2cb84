# pulpdist: plain GNU make.  `make` builds ./pulpdist; `make check` runs
# every test; `make asan` runs them under ASan+UBSan; `make demo` shows it.

CC	?= cc
BUILD	?= build
CFLAGS	?= -O2 -g
WARN	 = -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
	   -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
PKGS	 = openssl lmdb libxxhash jansson libzstd libevent_core libevent_extra \
	   libevent_openssl libcurl inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl's headers only: node/curlso.c opens it when a transfer starts.
# Of OpenSSL, nothing: common/crypto.c opens libcrypto when a command
# first hashes, signs or verifies, and node/sslso.c opens libssl and
# libevent_openssl when a node first serves HTTPS.  The unit tests drive
# TLS handshakes themselves, and link all three.
PKG_LIBS   := $(shell pkg-config --libs $(filter-out \
	      libcurl openssl libevent_openssl,$(PKGS)) 2>/dev/null)
TLS_LIBS   := $(shell pkg-config --libs libssl libcrypto 2>/dev/null) \
	      -levent_openssl
ALL_CFLAGS = $(WARN) -D_GNU_SOURCE $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
# libinotifytools ships no pkg-config file in Debian 12.  librsync's
# headers only: delta/rs.c opens it when a delta is made or applied.
# libevent_pthreads and libevent_openssl by hand: their pkg-config files
# add -levent, the whole of libevent again beside libevent_core and
# libevent_extra.
LIBS	 = $(PKG_LIBS) -levent_pthreads -linotifytools -lpthread

# pulpdist's modules, one folder each (DESIGN.md, "Layout of the code").
COMMON	 = $(sort $(wildcard common/*.c))
PROTOCOL = $(sort $(wildcard protocol/*.c))
DELTA	 = $(sort $(wildcard delta/*.c))
CATALOG	 = $(sort $(wildcard catalog/*.c))
NODE	 = $(sort $(wildcard node/*.c))
CMD	 = $(sort $(wildcard cmd/*.c))
UNIT	 = $(sort $(wildcard tests/unit/*.c))

LIB_SRC	 = $(COMMON) $(PROTOCOL) $(DELTA) $(CATALOG) $(NODE)
LIB_OBJ	 = $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ	 = $(CMD:%.c=$(BUILD)/%.o)
UNIT_OBJ = $(UNIT:%.c=$(BUILD)/%.o)
BIN	 = $(BUILD)/pulpdist
UNITBIN	 = $(BUILD)/unit-tests

all: pulpdist

# The default build leaves the binary at the top, where README says.
pulpdist: $(BIN)
	@if [ "$(BUILD)" = build ]; then \
	    cp $(BIN) pulpdist.tmp && mv -f pulpdist.tmp pulpdist; fi

$(BUILD)/.deps-ok: contrib/check-deps
	@CC="$(CC)" contrib/check-deps
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BIN): $(LIB_OBJ) $(CMD_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(UNITBIN): $(LIB_OBJ) $(UNIT_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(TLS_LIBS) -lcunit

deps:
	@contrib/install-deps

check: deps
	@$(MAKE) --no-print-directory check-unit check-e2e

check-unit: $(UNITBIN)
	$(UNITBIN) spec/vectors

check-e2e: pulpdist
	PULPDIST=$(abspath $(BIN)) tests/e2e/run.sh

# Everything again with AddressSanitizer and UndefinedBehaviorSanitizer,
# in its own build directory so the two builds never mix objects.
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=all
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" \
	    LDFLAGS="$(ASAN_FLAGS)" check-unit check-e2e

demo: deps pulpdist
	contrib/demo.sh

# Speed, wire bytes and memory on real data, next to rsync and the other
# floors measured in the same run (fetches Debian's linux-source; not a
# test).  BENCH_RUNS sets the runs per measurement.
BENCH_RUNS = 3
bench: bench-compare bench-import bench-pull bench-steady bench-bigfile

bench-compare: deps pulpdist
	tests/bench/compare.sh $(BENCH_RUNS)

bench-quick: deps pulpdist
	tests/bench/compare.sh --quick $(BENCH_RUNS)

bench-import: deps pulpdist
	tests/bench/import.sh $(BENCH_RUNS)

bench-pull: deps pulpdist
	tests/bench/pull.sh $(BENCH_RUNS)

bench-steady: deps pulpdist
	tests/bench/steady.sh

bench-bigfile: deps pulpdist
	tests/bench/bigfile.sh

# House rules the compiler does not check (see checksrc.sh).
checksrc:
	@contrib/checksrc.sh

clean:
	rm -rf build build-asan pulpdist pulpdist.tmp

.PHONY: all deps check check-unit check-e2e asan demo bench bench-import \
	bench-pull bench-steady bench-bigfile bench-compare bench-quick \
	checksrc clean

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
