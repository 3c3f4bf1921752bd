# smartx: `make demo` shows the whole chain on this machine, `make test` runs the whole suite.
# Everything installs from go.mod: no tool is needed beyond Go itself.

GO          ?= go
BIN         := bin/smartx
PKG         := github.com/smart-impulse/smartx
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE        ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS     := -s -w \
	-X $(PKG)/internal/buildinfo.version=$(VERSION) \
	-X $(PKG)/internal/buildinfo.commit=$(COMMIT) \
	-X $(PKG)/internal/buildinfo.date=$(DATE)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
BENCHTIME   ?= 1s
PLATFORMS   := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

# Pure Go everywhere: the binary cross-compiles and runs without a C toolchain.
export CGO_ENABLED ?= 0

.PHONY: all build test test-windows lint bench fuzz dist docs demo clean

all: lint test build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/smartx

# The race detector needs cgo; the suite is the one place it is switched on.
# The server's tests run a second time on PostgreSQL (a throwaway cluster; skipped with one
# line when PostgreSQL is not installed), so both stores serve the same API.
test: test-windows
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m ./...
	SMARTX_TEST_STORE=postgres CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m ./internal/server/

# Most installers run smartx on Windows: what only Windows compiles must not rot unseen. Vet every
# package for windows/amd64 and compile and link every package's tests; the test binaries are
# handed to `true` instead of being run, so neither Windows nor Wine is needed.
test-windows:
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) test -exec=true -run '^$$' ./... >/dev/null

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# Each fuzz target runs for $(FUZZTIME); the seeds live in each package's testdata.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Per platform: an archive (tar.gz; zip for Windows) of the binary, README, licences and man
# pages, a CycloneDX SBOM from the binary's own module list, and SHA256SUMS (tools/dist).
dist: docs
	$(GO) run ./tools/dist -version $(VERSION) -date $(DATE) -ldflags "$(LDFLAGS)" \
	  -platforms "$(PLATFORMS)" -man build/man -out dist

# The command reference: markdown pages checked in (docs/commands; a test fails when they are
# out of date) and man pages in build/man for the release archives.
docs:
	$(GO) run ./tools/gendocs -md docs/commands -man build/man

demo: build
	$(GO) run ./tools/demo -smartx $(BIN)

clean:
	rm -rf bin dist build
