# reel: `make` builds build/reelc; `make test` runs every test;
# `make generated` compiles specs/ into generated/; `make demo` runs the demo;
# `make bench` measures against PyTorch and oneDNN; `make fuzz` fuzzes the readers.
CC ?= cc
CFLAGS ?= -O2 -g
COMPILER_FLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Icompiler -Iruntime -MMD -MP
LDLIBS = -lyaml -lm
B = build
SAN = $(B)/san

SOURCES = $(wildcard compiler/*.c compiler/ops/*.c)
OBJECTS = $(SOURCES:compiler/%.c=$(B)/%.o) $(B)/runtime_files.o $(B)/runtime_sizes.o
RUNTIME = runtime/reel_runtime.h $(sort $(wildcard runtime/generic/*.c runtime/avx2/*.c runtime/avx2/*.h))
SPECS = $(wildcard specs/*.yaml)

all: $(B)/reelc

$(B)/reelc: $(OBJECTS)
	$(CC) $(CFLAGS) -o $@ $(OBJECTS) $(LDLIBS)

$(B)/%.o: compiler/%.c | $(B)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(COMPILER_FLAGS) -c -o $@ $<

$(B)/runtime_files.o: $(B)/runtime_files.c
	$(CC) $(CFLAGS) $(COMPILER_FLAGS) -c -o $@ $<

$(B)/runtime_files.c: $(B)/embed $(RUNTIME)
	$(B)/embed $(RUNTIME) > $@.tmp && mv $@.tmp $@

$(B)/runtime_sizes.o: $(B)/runtime_sizes.c
	$(CC) $(CFLAGS) $(COMPILER_FLAGS) -c -o $@ $<

$(B)/runtime_sizes.c: tools/runtime_sizes.sh $(RUNTIME) | $(B)
	sh tools/runtime_sizes.sh $(CC) $(RUNTIME) > $@.tmp && mv $@.tmp $@

$(B)/embed: tools/embed.c | $(B)
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -Werror -o $@ $<

$(B):
	mkdir -p $(B)

# Every spec in specs/ compiled to generated/<model>/ (random weights where
# specs/weights/ has none), so the emitted C can be read.
generated: $(B)/reelc
	@for spec in $(SPECS); do \
	  m=$$(basename $$spec .yaml); w=specs/weights/$$m.safetensors; \
	  if [ -f $$w ]; then wopt="-w $$w"; else wopt="--random-weights 1"; fi; \
	  echo "reelc compile $$spec $$wopt -o generated/$$m"; \
	  mkdir -p generated/$$m && $(B)/reelc compile $$spec $$wopt -o generated/$$m || exit 1; \
	done

# The main job: compile the trained ConvLSTM forecaster, build it with a small
# app, forecast a fresh bouncing-shapes clip into generated/forecast.png.
demo: $(B)/reelc
	sh tools/forecast_demo.sh

# Every test file, JOBS at a time (default: the number of CPUs), in two
# passes: the plain pass, every file against reelc; the sanitizer pass,
# reelc built with AddressSanitizer and UBSan (clang) on its own code (cli,
# errors, fuzz, and sanitizer.test: every spec through compile, info, the
# dumps and run, its files hash-equal to the plain reelc's), so any memory
# error or undefined behaviour in the compiler fails a test.  The last line
# sums both passes.
JOBS ?=
TEST_FLAGS = $(if $(JOBS),-jobs $(JOBS))
test: $(B)/reelc $(SAN)/reelc
	tclsh tests/all.tcl -pass both $(TEST_FLAGS)

# The sanitizer pass alone.
sanitize: $(B)/reelc $(SAN)/reelc
	tclsh tests/all.tcl -pass sanitize $(TEST_FLAGS)

SAN_OBJECTS = $(SOURCES:compiler/%.c=$(SAN)/%.o) $(SAN)/runtime_files.o $(SAN)/runtime_sizes.o
SAN_FLAGS = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all

$(SAN)/reelc: $(SAN_OBJECTS)
	clang -fsanitize=address,undefined -o $@ $(SAN_OBJECTS) $(LDLIBS)

$(SAN)/%.o: compiler/%.c | $(SAN)
	@mkdir -p $(dir $@)
	clang $(COMPILER_FLAGS) $(SAN_FLAGS) -c -o $@ $<

$(SAN)/runtime_files.o: $(B)/runtime_files.c | $(SAN)
	clang $(COMPILER_FLAGS) $(SAN_FLAGS) -c -o $@ $<

$(SAN)/runtime_sizes.o: $(B)/runtime_sizes.c | $(SAN)
	clang $(COMPILER_FLAGS) $(SAN_FLAGS) -c -o $@ $<

$(SAN):
	mkdir -p $(SAN)

# libFuzzer (clang) on the spec and safetensors readers, FUZZ_SECONDS per
# harness; anything found lands in tests/fuzz/corpus/, which `make test` replays.
FUZZ_SECONDS ?= 600
fuzz: $(B)/reelc
	sh tests/fuzz/run.sh $(FUZZ_SECONDS)

# Latency of every spec and of the LSTM/GRU/ConvLSTM cells against PyTorch and
# oneDNN on one pinned core; writes bench/RESULTS.md.  Not part of `test`.
bench: $(B)/reelc
	sh bench/run.sh

clean:
	rm -rf $(B) tests/tmp
	find generated -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +

.PHONY: all generated demo test sanitize fuzz bench clean
-include $(OBJECTS:.o=.d) $(SAN_OBJECTS:.o=.d)
