# Flare — build, test, run. `make run` and `make test` do their own set-up (make deps).

SWIFT        ?= swift
FUZZ_RUNS    ?= 10000000
# Debian packages the build, the tests and the benchmarks need.
DEBIAN_PACKAGES := pkg-config liburing-dev libisal-dev libsqlite3-dev libssl-dev openssl etcd-server curl fio nginx-light procps strace python3 s3cmd rclone \
                   chromium chromium-driver
FUZZ_SOURCES := $(addprefix Sources/FlareHTTP/,HTTPHeadParser.swift HTTPHead.swift HTTPHeaders.swift \
                HTTPParseError.swift HTTPBodyFraming.swift ChunkedBodyDecoder.swift HTTPLimits.swift ClientLimiter.swift) \
                Fuzz/FuzzRequestParser.swift

.PHONY: deps build test run bench bench-check bench-baseline bench-cluster fuzz clean help

help:
	@echo "make run      start a local cluster (API on :8000, data nodes on :9001-9003, data in ./data)"
	@echo "make test     everything CI runs (unit, both I/O engines, integration)"
	@echo "make build    release build of api, datanode, flare, flare-bench and flare-pipeline"
	@echo "make bench    micro-benchmarks (Benchmarks/) with same-run baselines, results in bench-results/"
	@echo "make bench-cluster   flare-bench's full matrix on both engines, recorded in bench-results/"
	@echo "make bench-check     throughput regression check against bench-results/baseline.json"
	@echo "make fuzz     libFuzzer over the HTTP head parser (FUZZ_RUNS=$(FUZZ_RUNS))"
	@echo "make deps     install missing Debian packages ($(DEBIAN_PACKAGES)) and awscli, selenium, requests, prometheus_client (PyPI)"
	@echo "make clean    remove build products"

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing Debian packages:$$missing"; \
	    echo "install them with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@# The S3 tests drive the real awscli (PyPI's, as AWS ships it).
	@command -v aws >/dev/null 2>&1 || { echo "installing awscli from PyPI"; python3 -m pip install -q awscli || \
	  python3 -m pip install -q --break-system-packages awscli; }
	@# The console's test drives Chromium with selenium; the S3 POST test sends forms with requests;
	@# the metrics test parses /metrics with prometheus_client.
	@for module in selenium requests prometheus_client; do python3 -c "import $$module" 2>/dev/null || { echo "installing $$module from PyPI"; \
	  python3 -m pip install -q $$module || python3 -m pip install -q --break-system-packages $$module; }; done

build: deps
	$(SWIFT) build -c release

run: deps build
	./scripts/run-cluster.sh

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel
	$(MAKE) --no-print-directory fuzz FUZZ_RUNS=200000

bench: deps
	./Benchmarks/record-results.sh

# Throughput regression check: flare-bench --quick ratios against bench-results/baseline.json
# (coarser with CI=true). Refresh the baseline deliberately: make bench-baseline, then commit it.
bench-check: deps
	$(SWIFT) build -c release
	$(SWIFT) run -c release flare-bench check

bench-baseline: deps
	$(SWIFT) build -c release
	$(SWIFT) run -c release flare-bench check --update-baseline

# The full flare-bench matrix on both engines, recorded in bench-results/.
bench-cluster: deps
	$(SWIFT) build -c release
	$(SWIFT) run -c release flare-bench --io uring --rounds 3
	$(SWIFT) run -c release flare-bench --io epoll --rounds 3

fuzz:
	@mkdir -p .build/fuzz .build/fuzz/corpus
	cp -n Fuzz/corpus/* .build/fuzz/corpus/ 2>/dev/null || true
	swiftc -sanitize=fuzzer,address -O -parse-as-library -module-name FlareFuzz $(FUZZ_SOURCES) \
	  -o .build/fuzz/request-parser 2>&1 | grep -v "Cannot export local symbol" || true
	.build/fuzz/request-parser -runs=$(FUZZ_RUNS) -max_len=4200 .build/fuzz/corpus

clean:
	rm -rf .build Benchmarks/.build
