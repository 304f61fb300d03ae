# Thin wrapper around CMake so that the two everyday commands are short:
#   make demo   - build and run a local federation on generated demo data
#   make test   - build and run the whole suite, then again under ASan+UBSan
#   make package - the Debian package (build-pkg/fedrec_VERSION-1_ARCH.deb)
# All install missing Debian packages first (scripts/deps.sh).

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_PKG ?= build-pkg

.PHONY: all deps deps-test build build-asan test test-plain test-asan demo clean \
        package

all: build

deps:
	@scripts/deps.sh

# What the monitoring test drives besides our binaries (Prometheus, Chromium).
deps-test:
	@scripts/deps.sh test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DFR_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j$(JOBS)

test-plain: build deps-test
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure --timeout 600

test-asan: build-asan deps-test
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest -j$(JOBS) --output-on-failure --timeout 900

test: test-plain test-asan

demo: build
	scripts/demo.sh $(BUILD)/bin

# The Debian package: a build for /usr with Debian's hardening flags in
# $(BUILD_PKG), cpack, then the path of the .deb (install it with
# `sudo apt install ./build-pkg/fedrec_*.deb`; README.md, Packaging).
package:
	@scripts/deps.sh package
	@JOBS=$(JOBS) scripts/package.sh $(BUILD_PKG)

# Every fuzz target for FUZZ_SECONDS each (default 60) under libFuzzer with
# ASan+UBSan (clang); prints executions per second and new coverage. The
# suite itself only replays the committed corpora (tests/fuzz/corpus).
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	@scripts/deps.sh fuzz
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug \
	  -DFR_FUZZ=ON >/dev/null
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz-targets
	scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_PKG) demo-run

# Benchmarks (need ../shared/data/ncf-ml-1m; they skip cleanly without it).
.PHONY: bench-quality bench-ml1m bench-secagg
bench-quality: build
	bench/quality.sh $(BUILD)/bin

# The same through real processes for the least-squares kind (model ials).
.PHONY: bench-quality-ials
bench-quality-ials: build
	FR_MODEL=ials FR_BENCH_DIR=bench-run/ials bench/quality.sh $(BUILD)/bin

# HR@10 / NDCG@10 against the member-level DP budget epsilon (1..16, delta
# 1e-6) at 10 and 100 secure stores, with the no-DP reference; draws
# bench-run/privacy/curve.svg (needs ../shared/data/ncf-ml-1m).
.PHONY: bench-privacy
bench-privacy: build
	bench/privacy.sh $(BUILD)/bin

# The cost of a 100k-item catalogue: files, model size per strategy, a secure
# round of 100 simulated stores (needs no data).
.PHONY: bench-catalogue
bench-catalogue: build
	bench/catalogue.sh $(BUILD)/bin

bench-ml1m: build
	$(BUILD)/bin/bench_ml1m --test --stores 10

# The iALS model kind on the same split, stores simulated in one process:
# 10 stores (3 seeds), 100, non-IID, centralised, exact item step, and its
# epoch time and solve rate against cblas_sgemm and the MF trainer's epoch.
.PHONY: bench-ials
bench-ials: build
	bench/ials.sh $(BUILD)/bin

# SecAgg+ cost against the ChaCha20/X25519 floor (needs no data).
bench-secagg: build
	$(BUILD)/bin/bench_secagg

# A secure round of 1,000 stores over ZeroMQ on loopback, 10 % dropping out
# after their shares: round time and aggregator peak RSS (needs no data).
.PHONY: bench-secagg-load
bench-secagg-load: build
	bench/secagg_load.sh $(BUILD)/bin

# Secure rounds through 10 regional aggregators at 1,000, 5,000 and 10,000
# simulated stores, next to one flat aggregator at 1,000 and 5,000: round
# time, phases, bytes per store and region, RSS and CPU of every aggregator
# (needs no data; about 20 minutes on 2 cores).
.PHONY: bench-regions
bench-regions: build
	bench/regions.sh $(BUILD)/bin
