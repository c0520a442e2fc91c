# Estuary: the two set-up commands are `make run` and `make test` (see README.md).
SWIFT ?= swift
FIXTURES := Tests/EstuaryWireTests/Fixtures/collectd
FUZZ_SECONDS ?= 20
BENCH_SECONDS ?= 3

.PHONY: all deps build test fuzz fuzz-smoke bench run lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build --build-tests

test: build lint
	$(SWIFT) test --skip-build
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Longer fuzzing: make fuzz FUZZ_SECONDS=600
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps
	$(SWIFT) build -c release --product estuary-bench
	.build/release/estuary-bench $(FIXTURES) $(BENCH_SECONDS)

# The wire formats must stay free of I/O (see Docs/architecture.md).
lint:
	@if grep -rnE '^import (Foundation|Dispatch|Glibc)' Sources/EstuaryWire Sources/EstuaryModel; then \
	  echo "EstuaryWire and EstuaryModel must not import Foundation, Dispatch or Glibc" >&2; exit 1; fi

run: build
	@echo "== estuary decode collectd (a real collectd datagram) =="
	.build/debug/estuary decode collectd --types-db $(FIXTURES)/types.db $(FIXTURES)/capture/plain/000.bin | head -5
	@echo "== estuary decode graphite --collectd (write_graphite lines) =="
	head -3 $(FIXTURES)/write_graphite-client-tcp.txt | .build/debug/estuary decode graphite --collectd --types-db $(FIXTURES)/types.db

clean:
	rm -rf .build .build-fuzz
