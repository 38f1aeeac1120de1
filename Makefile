# Falcon: `make run` starts everything on a laptop, `make test` checks everything.
# The project's Go (go.work): the go command fetches it through the module
# proxy when the machine's is older.
export GOTOOLCHAIN ?= go1.27.3
GO       ?= go
BIN      := bin
SERVICES := write-api read-api read-model-updater sparrow-forwarder
# Package patterns of every module in go.work.
PKGS     := ./proto/... ./libs/... ./services/write-api/... ./services/read-api/... \
            ./services/read-model-updater/... ./services/sparrow-forwarder/... ./services/falcon/... ./loadtest/... \
            ./deploycheck/...
GOBIN    ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
# Analysers must be built by the toolchain of the code they read: they are
# kept apart from GOBIN, per toolchain.
TOOLS    := $(CURDIR)/.falcon/tools/$(GOTOOLCHAIN)

.PHONY: legacy-db-up legacy-db-down dashboards build run test test-embedded test-real real-up real-down test-short proto proto-check thrift thrift-check lint bench loadtest images deploy-tools clean

build:
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do echo "build $(BIN)/$$s"; CGO_ENABLED=0 $(GO) build -o $(BIN)/$$s ./services/$$s || exit 1; done
	@echo "build $(BIN)/falcon"; CGO_ENABLED=0 $(GO) build -o $(BIN)/falcon ./services/falcon
	@echo "build $(BIN)/loadtest"; CGO_ENABLED=0 $(GO) build -o $(BIN)/loadtest ./loadtest

run: build
	./$(BIN)/falcon dev

# schemathesis (PyPI) fuzzes the REST API from its OpenAPI document
# (services/falcon TestOpenAPIContract); in a virtualenv of its own.
SCHEMATHESIS_VERSION ?= 4.32.5
SCHEMATHESIS         := $(CURDIR)/.falcon/tools/schemathesis-$(SCHEMATHESIS_VERSION)/bin/schemathesis

# Everything: the suite on the embedded broker and store, then the suites
# that talk to Kafka and HBase again on real Apache Kafka and HBase.
test: test-embedded
	$(MAKE) test-real

# Debian's chromium drives the web client in services/falcon
# TestChatInTwoBrowsers (chromedp); its screenshots are kept in
# .falcon/artifacts.
CHROMIUM  ?= /usr/bin/chromium
MARIADBD  ?= /usr/sbin/mariadbd
ARTIFACTS := $(CURDIR)/.falcon/artifacts

test-embedded: proto-check lint build deploy-tools $(SCHEMATHESIS) $(CHROMIUM) $(MARIADBD)
	@mkdir -p $(ARTIFACTS)
	FALCON_SCHEMATHESIS=$(SCHEMATHESIS) FALCON_BROWSER=$(CHROMIUM) FALCON_REQUIRE_MARIADB=1 $(GO) test -race -count=1 -timeout 20m -artifacts -outputdir $(ARTIFACTS) $(PKGS)

# MariaDB (Debian) for the migration's tests (libs/legacydb): each test
# starts one of its own with scripts/legacy/db.sh.
$(MARIADBD):
	@echo "installing mariadb-server (Debian) for the migration tests"
	@sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends mariadb-server mariadb-client >/dev/null

$(CHROMIUM):
	@echo "installing chromium (Debian) for the browser test"
	@sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q chromium >/dev/null

$(SCHEMATHESIS):
	@echo "installing schemathesis $(SCHEMATHESIS_VERSION) from PyPI"
	@venv=$(CURDIR)/.falcon/tools/schemathesis-$(SCHEMATHESIS_VERSION); rm -rf $$venv; \
	python3 -m venv $$venv 2>/dev/null || { echo "python3 venv is missing: installing python3-venv"; \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q python3-venv >/dev/null && python3 -m venv $$venv; } && \
	$$venv/bin/pip install -q --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)

# Real Apache Kafka (KRaft, one node) and HBase (standalone + Thrift2
# gateway) from Maven Central jars, on loopback (scripts/real/real.sh).
KAFKA_PORT        ?= 29092
HBASE_THRIFT_PORT ?= 29090
export KAFKA_PORT HBASE_THRIFT_PORT
# The packages whose tests talk to Kafka or HBase; FALCON_TEST_KAFKA and
# FALCON_TEST_HBASE point them at the real servers.
REAL_PKGS := ./libs/eventlog/... ./libs/hbasestore/... ./libs/setup/... ./services/write-api/... \
             ./services/read-api/stream/... ./services/read-model-updater/... ./services/sparrow-forwarder/... \
             ./services/falcon/...

real-up: build
	@scripts/real/real.sh up

real-down:
	@scripts/real/real.sh down

# Starts the servers if they do not run (and then stops them afterwards).
test-real: build
	scripts/real/real.sh test $(GO) test -race -count=1 -timeout 30m $(REAL_PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# helm and kustomize render the manifests deploycheck verifies; installed
# from the Go module proxy when missing.
HELM_VERSION      ?= v3.22.0
KUSTOMIZE_VERSION ?= v5.8.2
deploy-tools:
	@command -v helm >/dev/null || { echo "installing helm $(HELM_VERSION)"; GOFLAGS= $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION); }
	@command -v kustomize >/dev/null || { echo "installing kustomize $(KUSTOMIZE_VERSION)"; GOFLAGS= $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION); }

# The legacy MySQL database (MariaDB, installed with apt-get where missing)
# on 127.0.0.1:$(LEGACY_DB_PORT), binlog on in ROW format, with the legacy
# schema (scripts/legacy/schema.sql): what `falcon migrate` reads.
LEGACY_DB_PORT ?= 23306
export LEGACY_DB_PORT
legacy-db-up:
	@scripts/legacy/db.sh up

legacy-db-down:
	@scripts/legacy/db.sh down

# Regenerates the Grafana dashboards (Helm chart and kustomize component
# copies; deploycheck checks them).
dashboards:
	python3 scripts/monitoring/dashboards.py

# Regenerates the committed Go code and OpenAPI document from proto/, with
# buf and the plugins at the versions the generated files name:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
#   go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.33.0
#   go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@v2.33.0
#   go install github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto@v0.6.0
#   go install github.com/bufbuild/buf/cmd/buf@latest
proto:
	cd proto && buf lint && buf generate

# Regenerates the HBase Thrift2 client code (Debian's thrift-compiler 0.17).
THRIFT_GEN := thrift -r --gen go:package_prefix=github.com/falcon-chat/falcon/libs/hbase/gen/,skip_remote
thrift:
	rm -rf libs/hbase/gen && mkdir -p libs/hbase/gen && $(THRIFT_GEN) -out libs/hbase/gen libs/hbase/thrift/hbase.thrift && gofmt -w libs/hbase/gen

# Checks the committed generated code is current, where the generators are
# installed (CI has neither buf nor thrift; it uses the committed code).
proto-check: thrift-check
thrift-check:
	@if command -v thrift >/dev/null; then \
		tmp=$$(mktemp -d) && $(THRIFT_GEN) -out $$tmp libs/hbase/thrift/hbase.thrift 2>/dev/null && gofmt -w $$tmp \
		&& diff -r libs/hbase/gen $$tmp && echo "thrift: generated code is current"; rc=$$?; rm -rf $$tmp; exit $$rc; \
	else echo "thrift: thrift-compiler is not installed; skipping the generated-code check"; fi

# Checks the committed generated code is current, where buf is installed.
proto-check:
	@if command -v buf >/dev/null && command -v protoc-gen-go >/dev/null && command -v protoc-gen-go-grpc >/dev/null \
	   && command -v protoc-gen-grpc-gateway >/dev/null && command -v protoc-gen-openapiv2 >/dev/null \
	   && command -v protoc-gen-go-vtproto >/dev/null; then \
		tmp=$$(mktemp -d) && cp -r proto/. $$tmp && (cd $$tmp && rm -rf gen && buf lint && buf generate) \
		&& diff -r proto/gen $$tmp/gen && echo "proto: generated code is current"; rc=$$?; rm -rf $$tmp; exit $$rc; \
	else echo "proto: buf or a protoc plugin is not installed; skipping the generated-code check"; fi

# golangci-lint with the project's rules (.golangci.yml: errcheck, govet,
# staticcheck, revive's doc-comment rules, gocritic, bodyclose, contextcheck,
# depguard enforcing ARCHITECTURE.md's import rules), installed from the
# module proxy when missing; a check that depguard refuses a wrong-way
# import; then govulncheck of every program, which must find nothing.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOVULNCHECK_VERSION   ?= v1.9.0
# The vulnerability database: vuln.go.dev where it is reachable, else (and
# by default, so that a result does not change under a commit) the OSV
# files of a pinned golang.org/x/vulndb from the module proxy. Bump the
# version to see newer reports.
VULNDB_VERSION        ?= v0.0.0-20261105234957-e22db6528018
VULNDB                ?=
VULN_MODULES          := services/write-api services/read-api services/read-model-updater services/sparrow-forwarder services/falcon loadtest
lint: $(TOOLS)/golangci-lint $(TOOLS)/govulncheck
	@out=$$(gofmt -l proto/*.go libs services loadtest deploycheck); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(TOOLS)/golangci-lint run $(PKGS)
	@GOLANGCI_LINT=$(TOOLS)/golangci-lint scripts/lint/depguard-selftest.sh
	@db="$(VULNDB)"; if [ -z "$$db" ]; then \
		dir=$$(GOFLAGS= $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/.*"Dir": "\(.*\)",/\1/p') && [ -d "$$dir/data/osv" ] || { echo "govulncheck: cannot fetch golang.org/x/vulndb@$(VULNDB_VERSION)"; exit 1; }; \
		db="file://$$dir/data/osv"; fi; \
	echo "govulncheck ($$(go env GOVERSION), database $$db)"; \
	for m in $(VULN_MODULES); do (cd $$m && $(TOOLS)/govulncheck -db "$$db" ./...) >/tmp/govulncheck.$$$$ 2>&1 \
		&& echo "  $$m: no vulnerabilities" || { cat /tmp/govulncheck.$$$$; rm -f /tmp/govulncheck.$$$$; exit 1; }; done; rm -f /tmp/govulncheck.$$$$

$(TOOLS)/golangci-lint:
	@echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) ($(GOTOOLCHAIN))"
	@GOFLAGS= GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(TOOLS)/govulncheck:
	@echo "installing govulncheck $(GOVULNCHECK_VERSION) ($(GOTOOLCHAIN))"
	@GOFLAGS= GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./libs/...

loadtest: build
	./$(BIN)/loadtest -h

# Container images, where a Docker engine runs (CI has none: it builds the
# same static binaries with `make build`).
IMAGE_PREFIX ?= falcon
IMAGE_TAG    ?= dev
images:
	@docker info >/dev/null 2>&1 || { echo "images: no Docker engine here; 'make build' builds the same static binaries"; exit 1; }
	@for s in $(SERVICES) falcon; do docker build --build-arg SERVICE=$$s -t $(IMAGE_PREFIX)/$$s:$(IMAGE_TAG) . || exit 1; done

clean:
	rm -rf $(BIN)
