# A thin layer over CMake.  On a fresh Debian 12 machine with gcc, make and
# cmake:  `make run` builds and runs the tour, `make test` runs every test.
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build run test bench deps clean format

all: build

# Tools the build and tests need; installs missing ones with apt-get when root.
$(BUILD)/.deps-ok: scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/CMakeCache.txt: $(BUILD)/.deps-ok
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

deps: $(BUILD)/.deps-ok

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/stackheap tour

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# `make bench`: the full suite (see bench/run.sh); `make bench QUICK=1`: about a
# minute; SH_BENCH_ONLY=stackheap (or a comma list) runs only those allocators.
QUICK         ?=
SH_BENCH_ONLY ?=
bench: build
	QUICK="$(QUICK)" SH_BENCH_ONLY="$(SH_BENCH_ONLY)" sh bench/run.sh $(BUILD)

format:
	clang-format -i include/*.h src/*.c src/*.h src/heap/*.c src/heap/*.h tests/*.c tools/*.c tools/tour/*.c tools/tour/*.h bench/*.c bench/*.h bench/workloads/*.c bench/workloads/*.h

clean:
	rm -rf $(BUILD)
