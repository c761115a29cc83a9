# bngbox — see README.md. Integration tests and the demo need root.
GO       ?= go
BIN      := bin/bngbox
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...

export CGO_ENABLED := 0

.PHONY: all build build-arm64 test test-unit test-integration test-vm bench bench-micro bench-system bench-radius bench-l2tp demo lint fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/bngbox

build-arm64:
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/bngbox-arm64 ./cmd/bngbox

# Unit tests (race detector needs cgo) then the netns integration tests.
test: test-unit test-integration

test-unit:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m $(PKGS)

test-integration: build
	BNGBOX_BIN=$(CURDIR)/$(BIN) $(GO) test -tags integration -count=1 -p 1 -timeout 30m -run 'Integration' $(PKGS)

test-vm: build
	BNGBOX_BIN=$(CURDIR)/$(BIN) $(GO) test -tags vmlab -count=1 -timeout 40m ./test/vmlab/...

bench: bench-micro bench-system bench-radius

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-system: build
	BNGBOX_BIN=$(CURDIR)/$(BIN) bench/sessions.sh

# Session setup rate with RADIUS auth (FreeRADIUS) vs local auth, same run.
bench-radius: build
	BNGBOX_BIN=$(CURDIR)/$(BIN) bench/radius.sh

# bngbox LNS vs Debian l2tpns LNS (root; l2tpns, freeradius, iperf3).
bench-l2tp: build
	BNGBOX_BIN=$(CURDIR)/$(BIN) bench/l2tp-compare.sh

demo: build
	BNGBOX_BIN=$(CURDIR)/$(BIN) test/demo/demo.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)
	$(GO) vet -tags vmlab ./test/vmlab/...
	staticcheck $(PKGS)
	staticcheck -tags integration $(PKGS)
	staticcheck -tags vmlab ./test/vmlab/...

FUZZTIME ?= 10s
fuzz:
	@for p in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
	    echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
