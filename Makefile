# ideserver — `make test` prepares a fresh Debian machine and runs every test.

GO      ?= go
GOFLAGS ?=
# Debian packages the tests use: real shells, PTYs and process tools.
APT_PACKAGES := bash procps util-linux coreutils bubblewrap slirp4netns chromium

.PHONY: test deps check unit web bench build fuzz clean load

test: deps check unit web

## deps installs what the tests need (as root, with apt-get) when missing.
## A second make test started beside this one waits for the first one's
## install (flock), and both wait for any other apt (Lock::Timeout).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO flock /var/lock/ideserver-make-deps.lock sh -c "apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq $$missing"; \
	fi
	$(GO) mod download
	@# The pinned gopls and dlv (tools/go.mod), built into Go's cache; tests
	@# find them with `go tool -n NAME` run in tools/.
	cd tools && $(GO) tool -n gopls >/dev/null && $(GO) tool -n dlv >/dev/null
	@# The web UI's build tools and playwright-core, from web/package-lock.json.
	cd web && npm ci --no-audit --no-fund

## web type-checks and rebuilds the browser IDE, fails if the committed
## web/dist differs from the fresh build, and runs the browser test
## (Debian's Chromium against the real binary).
web:
	cd web && npm run typecheck && npm run build
	@if [ -n "$$(git status --porcelain -- web/dist)" ]; then \
		echo "web/dist is stale: run 'npm run build' in web/ and commit dist/"; git status --short -- web/dist; exit 1; fi
	cd web && npm test

## check runs formatting and static checks.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## unit runs every Go test (unit, real-process, crash and end-to-end) under the race detector.
unit:
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./store/ ./workspace/ ./server/

build:
	$(GO) build -o bin/ideserver ./cmd/ideserver

## load drives a RUNNING server with cmd/ideload and prints its JSON summary
## (not part of test). Give the server's URL and an admin token, and its pid
## for resource samples, e.g.
##   make load LOADFLAGS="--url http://127.0.0.1:8080 --token TOKEN --pid PID"
## (or the token in IDELOAD_TOKEN); `go run ./cmd/ideload --help` lists the
## sizes (--workspaces, --terminals, --shells, --lsp, --runs, --duration ...).
load:
	$(GO) run ./cmd/ideload $(LOADFLAGS)

clean:
	rm -rf bin
