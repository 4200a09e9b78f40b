# Lockbox. `make run` starts the whole stack locally; `make test` runs the
# test suite. Both need nothing but Go.

SHELL      := /bin/bash
GO         ?= go
BIN        := $(CURDIR)/bin
FAAS_CLI   := $(BIN)/faas-cli
STACK      ?= stack.yml
# Every module of the workspace (go test ./... does not work at a go.work root).
MODULES     = $(shell $(GO) list -m -f '{{.Dir}}/...')

.PHONY: help run reset test-traefik verify-audit fuzz screenshots test test-unit check-images test-integration lint bench bench-compare bench-go build push deploy up faas-cli

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# Everything is built with the flags of the function images (static, trimmed
# paths), so that a cold build cache compiles the standard library once.
BUILD := CGO_ENABLED=0 $(GO) build -trimpath

run: $(BIN)/lockboxctl ## run the whole stack locally (see README)
	$(BUILD) -o $(BIN)/localrun ./scripts/cmd/localrun
	$(BIN)/localrun -f $(STACK) -faas-cli $(FAAS_CLI)

reset: ## delete make run's data (.data: Redis, the audit archive, mails, built functions); keeps .secrets
	@if [ -d .data ]; then du -sh .data | sed 's/\t.*//; s/^/deleting .data: /'; rm -rf .data; else echo "no .data to delete"; fi

$(BIN)/lockboxctl: FORCE
	$(BUILD) -o $@ ./scripts/cmd/lockboxctl

.PHONY: FORCE
FORCE:

test: test-unit check-images ## unit tests of every module and the image build check
	@[ -n "$$LOCKBOX_TEST_REDIS_URL" ] || echo "note: the store's real-Redis subtests were skipped; 'make test-integration' runs them against redis-server"
	@[ -n "$$LOCKBOX_INTEGRATION" ] || echo "note: the slowest stack tests (nginx, sshd, Prometheus, passkeys in chromium, the provider policy) were skipped; 'make test-integration' runs them"

# The template is a module of its own (handler, with handler/function), kept
# out of go.work as in its image build: its tests run with GOWORK=off.
test-unit: $(FAAS_CLI) ## unit tests of every module, with the end-to-end test of make run through faas-cli
	LOCKBOX_FAAS_CLI=$(FAAS_CLI) $(GO) test -count=1 $(MODULES)
	cd template/golang-lockbox && GOWORK=off $(GO) test -count=1 ./...

check-images: $(FAAS_CLI) ## reproduce every function's image build without Docker
	$(GO) run ./scripts/cmd/imagecheck -faas-cli $(FAAS_CLI) -f $(STACK)

# LOCKBOX_INTEGRATION=1 adds the end-to-end tests that make test leaves out
# to stay within 5 minutes on two cores (docs/development.md).
test-integration: $(FAAS_CLI) ## every test, with the slow end-to-end ones, against throwaway redis-server, Redis Cluster and the pinned MinIO, with the race detector
	LOCKBOX_INTEGRATION=1 LOCKBOX_MINIO_BIN=$$(scripts/install-minio.sh) LOCKBOX_FAAS_CLI=$(FAAS_CLI) \
		scripts/with-redis-cluster.sh scripts/with-redis.sh $(GO) test -count=1 -race $(MODULES)

test-traefik: $(FAAS_CLI) ## the README's Traefik forwardAuth configuration with the real, pinned Traefik (its first build: about 20 minutes of CPU)
	LOCKBOX_TRAEFIK_BIN=$$(scripts/install-traefik.sh) LOCKBOX_FAAS_CLI=$(FAAS_CLI) $(GO) test -count=1 -run TestTraefikForwardAuth ./scripts/e2e/

screenshots: ## drive the portal and the mailbox in chromium against make run's stack; save every page into docs/portal/ and docs/mail/
	LOCKBOX_INTEGRATION=1 LOCKBOX_PORTAL_SCREENSHOTS=$(CURDIR)/docs/portal LOCKBOX_MAIL_SCREENSHOTS=$(CURDIR)/docs/mail \
		$(GO) test -count=1 -run 'TestPortalInBrowser|TestMailInBrowser|TestMailFitsPhone|TestReceiptInBrowser|TestSettingsFormInBrowser|TestLockdownInBrowser|TestProviderPolicyOnTheStack|TestBreakGlassOnTheStack' ./scripts/e2e/

FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzDecodeCreate:./shared/httpapi FuzzStrictMatchesTokenWalk:./shared/httpapi FuzzDecodeDecision:./shared/httpapi FuzzDecodeSettings:./shared/httpapi \
	FuzzSignatureHeader:./shared/auth FuzzBearerToken:./shared/auth FuzzListQuery:./shared/api \
	FuzzVerifyJira:./shared/intake FuzzVerifyGitHub:./shared/intake FuzzVerifyZendesk:./shared/intake \
	FuzzVerifyServiceNow:./shared/intake FuzzRoute:./shared/intake FuzzPath:./shared/intake \
	FuzzSessionCookie:./shared/portal FuzzFormToken:./shared/portal

fuzz: ## run every fuzz target for FUZZTIME (20s) each; a crasher lands in testdata/fuzz as a regression test
	scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

# Static analysis, pinned in scripts/tools/go.mod.
STATICCHECK := $(BIN)/staticcheck
GOSEC       := $(BIN)/gosec
SCRIPTS     = $(filter %/scripts/...,$(MODULES))
DEPLOYABLE  = $(filter-out %/scripts/...,$(MODULES))

# gosec: the functions, the shared module and the template get every rule;
# the few suppressions are justified where they are (#nosec ... -- why).
# The developer tooling (make run, imagecheck, lockboxctl, auditverify) runs
# the commands and reads the files that the developer's own stack.yml and
# flags name, and never runs in a deployment: the subprocess (G204, G702), file path
# (G304, G703, G122), directory mode (G301) and request-URL (G704: the local
# gateway proxies to its own functions) rules are off for it alone.
lint: $(STATICCHECK) $(GOSEC) ## gofmt, go vet, staticcheck and gosec
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(MODULES)
	$(STATICCHECK) $(MODULES)
	cd template/golang-lockbox && GOWORK=off $(STATICCHECK) ./...
	$(GOSEC) -quiet -exclude-dir=scripts $(DEPLOYABLE)
	cd template/golang-lockbox && GOWORK=off $(GOSEC) -quiet ./...
	$(GOSEC) -quiet -exclude=G204,G702,G304,G703,G122,G301,G704 $(SCRIPTS)

$(STATICCHECK): scripts/tools/go.mod scripts/tools/go.sum
	GOWORK=off CGO_ENABLED=0 $(GO) -C scripts/tools build -trimpath -o $@ honnef.co/go/tools/cmd/staticcheck

$(GOSEC): scripts/tools/go.mod scripts/tools/go.sum
	GOWORK=off CGO_ENABLED=0 $(GO) -C scripts/tools build -trimpath -o $@ github.com/securego/gosec/v2/cmd/gosec

# make bench: every function as production runs it, driven over loopback
# by a separate load generator, beside its HTTP, Redis and PutObject
# ceilings (scripts/bench). QUICK=1 is the reduced run CI keeps alive; the
# full run also rewrites the results in docs/PERFORMANCE.md. BENCH_JSON=path
# writes the report as JSON.
bench: ## measure the functions beside their ceilings (QUICK=1: a few minutes; BENCH_JSON=out.json)
	$(BUILD) -o $(BIN)/bench ./scripts/bench
	LOCKBOX_MINIO_BIN=$$(scripts/install-minio.sh) $(BIN)/bench -f $(STACK) $(if $(QUICK),-quick,-doc docs/PERFORMANCE.md)

# bench-compare: this tree's create, approve and deny beside another
# commit's (a worktree of BASE, removed afterwards), both running at once and
# measured in alternating runs: the way to tell a change of a few percent on
# a machine whose speed drifts. ROUNDS=n (default 21).
bench-compare: ## create, approve and deny beside another commit's, alternating: make bench-compare BASE=<commit> [ROUNDS=21]
	@[ -n "$(BASE)" ] || { echo "usage: make bench-compare BASE=<commit> [ROUNDS=21]"; exit 2; }
	$(BUILD) -o $(BIN)/bench ./scripts/bench
	@dir=$$(mktemp -d); trap 'git worktree remove --force "$$dir/base" >/dev/null 2>&1; rm -rf "$$dir"' EXIT; \
		git worktree add --detach "$$dir/base" "$(BASE)" >/dev/null && \
		LOCKBOX_MINIO_BIN=$$(scripts/install-minio.sh) $(BIN)/bench -f $(STACK) -compare "$$dir/base" $(if $(ROUNDS),-rounds $(ROUNDS)) $(if $(BENCH_JSON),-json $(BENCH_JSON))

bench-go: ## Go micro-benchmarks for profiling: call flows, list page, transitions, export vs raw PutObject
	scripts/with-redis.sh $(GO) test -run '^$$' -bench . -benchmem ./shared/api/ ./shared/redisstore/ ./shared/portal/
	LOCKBOX_MINIO_BIN=$$(scripts/install-minio.sh) scripts/with-redis.sh \
		$(GO) test -run '^$$' -bench . -benchtime 3x -benchmem ./shared/audit/

verify-audit: ## verify a tenant's audit archive: make verify-audit TENANT=contoso (make run's S3, or s3_endpoint)
	@[ -n "$(TENANT)" ] || { echo "usage: make verify-audit TENANT=<tenantId>"; exit 2; }
	$(GO) run ./scripts/cmd/auditverify -tenant $(TENANT)

faas-cli: $(FAAS_CLI) ## build the pinned faas-cli into bin/

$(FAAS_CLI): scripts/tools/go.mod scripts/tools/go.sum
	GOWORK=off CGO_ENABLED=0 $(GO) -C scripts/tools build -trimpath -o $(FAAS_CLI) github.com/openfaas/faas-cli

build: $(FAAS_CLI) ## faas-cli build (needs Docker)
	$(FAAS_CLI) build -f $(STACK)

push: $(FAAS_CLI) ## faas-cli push (needs a registry login)
	$(FAAS_CLI) push -f $(STACK)

deploy: $(FAAS_CLI) ## faas-cli deploy to $OPENFAAS_URL
	$(FAAS_CLI) deploy -f $(STACK)

up: $(FAAS_CLI) ## faas-cli up: build, push and deploy
	$(FAAS_CLI) up -f $(STACK)
