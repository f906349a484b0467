# phpbuild — make targets. `make test` is what CI runs (.ci/run); it starts
# the test bed (registry, buildkitd, dockerd, Debian base images) when it is
# not up, so a fresh machine needs nothing installed by hand.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
TESTBED_ENV  = $${PHPBUILD_TESTBED_DIR:-/var/lib/phpbuild-testbed}/env
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

include Makefile.testbed

.PHONY: all build test test-slow lint unit demo clean bench bench-serving

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/phpbuild ./cmd/phpbuild
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/launcher ./cmd/launcher
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -o bin/launcher-linux-arm64 ./cmd/launcher

# Real Phalcon for the Phalcon suites: the shared source tarball beside this
# checkout (../shared/phalcon), unless PHPBUILD_PHALCON_SOURCE names one. Its
# runtime is compiled once per machine; BuildKit's cache and the test bed's
# registry keep it.
PHALCON_SOURCE ?= $(firstword $(wildcard $(CURDIR)/../shared/phalcon/phalcon-*.tgz))

# Unit and integration tests in one go test run, against the real test bed.
test: testbed lint
	set -a && . $(TESTBED_ENV) && set +a && PHPBUILD_TESTBED=1 \
	  PHPBUILD_PHALCON_SOURCE="$${PHPBUILD_PHALCON_SOURCE:-$(PHALCON_SOURCE)}" \
	  $(GO) test -race -count=1 -timeout 80m ./...

# The slow tests `make test` skips: the amd64 + arm64 runtime, its arm64
# run image and testdata extension built under QEMU (about 20 minutes the
# first time on 2 cores, seconds once the registry holds it), and an app
# image index built, run on both platforms and changed.
test-slow: testbed
	set -a && . $(TESTBED_ENV) && set +a && PHPBUILD_TESTBED=1 PHPBUILD_SLOW=1 \
	  $(GO) test -count=1 -timeout 80m -run 'TestMultiPlatform' -v ./build

# Hermetic tests only: no test bed (integration tests skip loudly).
unit:
	$(GO) test -count=1 ./...

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The sample apps, detected and planned on the test bed.
demo: testbed build
	@for app in plain assets phalcon; do \
	  echo; echo "==> bin/phpbuild detect testdata/apps/$$app"; bin/phpbuild detect testdata/apps/$$app || exit $$?; \
	  echo; echo "==> bin/phpbuild plan testdata/apps/$$app"; bin/phpbuild plan testdata/apps/$$app || exit $$?; \
	done
	demo/run.sh

clean:
	rm -rf bin

# phpbuild against bench/Dockerfile on the same test bed (not part of
# `make test`): writes bench/results.md and .json and the README table;
# then 20 release/rollback cycles under load (PHPBUILD_RELEASE_CYCLES=100
# for a soak).
BENCH_RUNS ?= 3
bench: testbed
	set -a && . $(TESTBED_ENV) && set +a && PHPBUILD_TESTBED=1 PHPBUILD_BENCH=1 PHPBUILD_BENCH_RUNS=$(BENCH_RUNS) \
	  $(GO) test -run '^$$' -bench BenchmarkVsDockerfile -benchtime 1x -timeout 100m -v ./bench
	@cat bench/results.md
	$(MAKE) bench-serving
	set -a && . $(TESTBED_ENV) && set +a && PHPBUILD_TESTBED=1 PHPBUILD_RELEASE_CYCLES=$${PHPBUILD_RELEASE_CYCLES:-20} \
	  $(GO) test -count=1 -run '^TestReleaseAndRollbackUnderLoad$$' -timeout 100m -v ./release

# The serving half of `make bench` alone: both images of the small app
# and of the Phalcon shop under load (bench/serving_test.go).
bench-serving: testbed
	set -a && . $(TESTBED_ENV) && set +a && PHPBUILD_TESTBED=1 PHPBUILD_BENCH=1 PHPBUILD_BENCH_RUNS=$(BENCH_RUNS) \
	  PHPBUILD_PHALCON_SOURCE="$${PHPBUILD_PHALCON_SOURCE:-$(PHALCON_SOURCE)}" \
	  $(GO) test -run '^$$' -bench BenchmarkServing -benchtime 1x -timeout 60m -v ./bench
	@cat bench/serving.md
