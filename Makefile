# Estuary: the two set-up commands are `make run` and `make test` (see README.md).
SWIFT ?= swift
FIXTURES := Tests/EstuaryWireTests/Fixtures/collectd
FUZZ_SECONDS ?= 12
BENCH_SECONDS ?= 3
RUNS ?= 3

.PHONY: all deps build test test-repeat fuzz fuzz-smoke bench run lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build --build-tests

test: build lint
	$(SWIFT) test --skip-build
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Not in CI: the whole suite RUNS times from one build, the last with a CPU hog on one core;
# pass or fail and the wall time of each run.
test-repeat: build lint
	RUNS=$(RUNS) scripts/test-repeat.sh

# Longer fuzzing: make fuzz FUZZ_SECONDS=600
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Decode throughput, the end-to-end comparisons (carbon-c-relay, InfluxDB's collectd listener),
# a 30-minute soak into a real InfluxDB restarted every 5 minutes, then the SNMP poller at
# 10,000 devices against net-snmp's tools. Pick sections with BENCH_SECTIONS="1 2 3 5" (skips
# the soak); SOAK_SECONDS shortens it.
bench:
	ESTUARY_BENCH_DEPS=1 scripts/install-deps.sh
	BENCH_SECONDS=$(BENCH_SECONDS) scripts/bench.sh

# The wire formats and SNMP's pure layer must stay free of I/O (see Docs/architecture.md).
lint:
	@if grep -rnE '^import (Foundation|Dispatch|Glibc)' Sources/EstuaryWire Sources/EstuaryModel Sources/EstuarySNMP; then \
	  echo "EstuaryWire, EstuaryModel and EstuarySNMP must not import Foundation, Dispatch or Glibc" >&2; exit 1; fi

# Starts a local InfluxDB under ./data (unless one answers on 127.0.0.1:8086) and runs
# Estuary with examples/estuary.toml. The script exits with Estuary's status (0 nothing lost,
# 1 configuration or start error, 3 data lost), which make reports as `Error N`; after Ctrl-C
# make itself then ends by SIGINT (shell status 130), as make always does.
run: build
	scripts/run-local.sh

clean:
	rm -rf .build .build-fuzz
