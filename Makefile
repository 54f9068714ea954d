# mixd - build, run, test, bench.
#
#   make run    installs missing Debian packages, builds, starts mixd
#   make test   installs, builds, runs every test (unit, unit under
#               ASan+UBSan, fuzz corpus replay, integration)
#   make bench  builds and runs the benchmarks
#
# Sources are found by wildcard per folder, so a new .c file needs no
# Makefile edit. Generated protobuf-c code goes to build/gen.

CC      ?= gcc
CLANG   ?= clang
BUILD   ?= build
JOBS    ?= 2

WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wcast-qual \
           -Wnull-dereference -Wimplicit-fallthrough
PKGS    := libmicrohttpd libprotobuf-c lmdb jansson zlib libcrypto
PKGCF   := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BASEFLAGS := -std=c11 -D_GNU_SOURCE -pthread -I$(BUILD)/gen -I. -Iinclude $(PKGCF)
OPT     ?= -O2 -g
CFLAGS  := $(BASEFLAGS) $(OPT) $(WARN) -fno-strict-aliasing
GENFLAGS := $(BASEFLAGS) $(OPT) -w
LDLIBS  := $(PKGLIBS) -lpthread -lm
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

PROTOS  := $(shell find proto -name '*.proto' | sort)
GEN_C   := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H   := $(GEN_C:.c=.h)

CORE_SRC := $(sort $(wildcard model/*.c codec/*.c storage/*.c collector/*.c query/*.c exporters/*.c))
CORE_SRC := $(filter-out collector/main.c,$(CORE_SRC))
MAIN_SRC := collector/main.c
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
# libmixd (reporter/): static and shared library, only mixd_* exported
LIBMIXD_SRC := $(filter-out reporter/mixd_report.c,$(sort $(wildcard reporter/*.c)))
LIBMIXD_OBJ := $(patsubst %.c,$(BUILD)/pic/%.o,$(LIBMIXD_SRC))
LIBMIXD_ASAN_OBJ := $(patsubst %.c,$(BUILD)/asan/%.o,$(LIBMIXD_SRC))
LIBMIXD_LIBS := -lcurl -lz -lpthread -lm
ifneq ($(LIBMIXD_SRC),)
LIBMIXD_A := $(BUILD)/libmixd.a
LIBMIXD_ASAN_A := $(BUILD)/libmixd-asan.a
LIBMIXD_ALL := $(BUILD)/libmixd.a $(BUILD)/libmixd.so $(BUILD)/libmixd.pc
ifneq ($(wildcard reporter/mixd_report.c),)
LIBMIXD_ALL += $(BUILD)/mixd-report
endif
endif

CORE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
ASAN_OBJ := $(patsubst %.c,$(BUILD)/asan/%.o,$(CORE_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/asan/gen/%.o,$(GEN_C))
FUZZ_OBJ := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(CORE_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/fuzzobj/gen/%.o,$(GEN_C))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ASAN_BIN := $(patsubst tests/unit/%.c,$(BUILD)/asan-tests/%,$(UNIT_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

# the web UI, embedded into mixd (see "the web UI" below)
WEB_DIR := dashboards/web
WEB_SRC := $(WEB_DIR)/index.html $(WEB_DIR)/build.js \
           $(sort $(wildcard $(WEB_DIR)/src/*.js $(WEB_DIR)/css/*.css))
WEB_NPM := $(WEB_DIR)/node_modules/.package-lock.json
WEB_C   := $(BUILD)/gen/web_assets.c
WEB_OBJ := $(BUILD)/obj/gen/web_assets.o

RUN_FLAGS ?=

.PHONY: all run test bench deps clean unit unit-asan fuzz-replay integration fuzz-build build-all
.SECONDARY: $(GEN_C) $(GEN_H)

all: $(BUILD)/mixd $(LIBMIXD_ALL)

deps:
	@sh scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	./$(BUILD)/mixd $(RUN_FLAGS)

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@$(MAKE) --no-print-directory unit unit-asan fuzz-replay integration

build-all: $(BUILD)/mixd $(LIBMIXD_ALL) $(UNIT_BIN) $(ASAN_BIN) $(FUZZ_BIN) $(BENCH_BIN)

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(BUILD)/mixd $(BENCH_BIN)
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)

# --- generated protobuf-c code ---
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

# every object may include generated headers
$(CORE_OBJ) $(ASAN_OBJ) $(FUZZ_OBJ) $(LIBMIXD_OBJ) $(LIBMIXD_ASAN_OBJ): | $(GEN_H)

# --- normal build ---
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(GENFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmixdcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mixd: $(BUILD)/obj/$(MAIN_SRC:.c=.o) $(WEB_OBJ) $(BUILD)/libmixdcore.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# --- the web UI (dashboards/web): npm ci of its pinned packages (under a
# lock, as several build dirs may share the checkout), esbuild bundles
# (dashboards/web/build.js), the files embedded as C
# (scripts/embed_web.js) and linked into mixd only ---
$(WEB_NPM): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && flock package-lock.json sh -c '[ node_modules/.package-lock.json -nt package-lock.json ] && \
		[ node_modules/.package-lock.json -nt package.json ] || npm ci --no-audit --no-fund'
	@touch $@

$(BUILD)/web/dist/index.html: $(WEB_SRC) $(WEB_NPM)
	node $(WEB_DIR)/build.js $(BUILD)/web/dist

$(WEB_C): $(BUILD)/web/dist/index.html scripts/embed_web.js
	node scripts/embed_web.js $(BUILD)/web/dist $@

$(WEB_OBJ): collector/web_ui.h

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmixdcore.a $(LIBMIXD_A) | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libmixdcore.a $(LIBMIXD_A) $(LDLIBS) $(LIBMIXD_LIBS) -lcmocka

# --- libmixd ---
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/libmixd.a: $(LIBMIXD_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libmixd.so: $(LIBMIXD_OBJ) reporter/libmixd.map
	$(CC) -shared -Wl,-soname,libmixd.so.0 -Wl,--version-script=reporter/libmixd.map \
		-o $@ $(LIBMIXD_OBJ) $(LIBMIXD_LIBS)

$(BUILD)/libmixd.pc: reporter/libmixd.pc.in
	sed -e 's|@PREFIX@|$(abspath $(BUILD))|' -e 's|@INCLUDEDIR@|$(abspath include)|' $< > $@

$(BUILD)/mixd-report: reporter/mixd_report.c $(BUILD)/libmixd.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmixd.a $(LIBMIXD_LIBS)

$(BUILD)/libmixd-asan.a: $(LIBMIXD_ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmixdcore.a $(LIBMIXD_A) | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O2 -o $@ $< $(BUILD)/libmixdcore.a $(LIBMIXD_A) $(LDLIBS) $(LIBMIXD_LIBS)

# --- ASan+UBSan build of the unit tests ---
$(BUILD)/asan/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(GENFLAGS) $(SANFLAGS) -O1 -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 -MMD -MP -c $< -o $@

$(BUILD)/libmixdcore-asan.a: $(ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/asan-tests/%: tests/unit/%.c $(BUILD)/libmixdcore-asan.a $(LIBMIXD_ASAN_A) | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 -o $@ $< $(BUILD)/libmixdcore-asan.a $(LIBMIXD_ASAN_A) $(LDLIBS) $(LIBMIXD_LIBS) -lcmocka

# --- libFuzzer targets (clang) ---
FUZZFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
$(BUILD)/fuzzobj/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CLANG) $(GENFLAGS) $(FUZZFLAGS) -O1 -c $< -o $@

$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS) $(FUZZFLAGS) -O1 -Wno-unknown-warning-option -c $< -o $@

$(BUILD)/libmixdcore-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libmixdcore-fuzz.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS) -fsanitize=fuzzer,address,undefined -O1 -o $@ $< $(BUILD)/libmixdcore-fuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# --- test runners ---
unit: $(UNIT_BIN)
	@sh tests/run_unit.sh "unit" $(UNIT_BIN)

unit-asan: $(ASAN_BIN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		sh tests/run_unit.sh "unit-asan" $(ASAN_BIN)

fuzz-replay: $(FUZZ_BIN)
	@sh tests/fuzz/replay.sh $(BUILD)/fuzz

integration: $(BUILD)/mixd $(LIBMIXD_ALL)
	@MIXD_BIN=$(abspath $(BUILD)/mixd) MIXD_REPORT_BIN=$(abspath $(BUILD)/mixd-report) \
		MIXD_BUILD=$(abspath $(BUILD)) sh tests/integration/run.sh

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
