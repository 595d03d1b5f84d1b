# rollback — build, test and CI entry points.
#
#   make deps          install the missing Debian packages (apt-get; needs root or sudo)
#   make build         swift build
#   make test          deps, build, schema test, harness and fleet self-tests, then swift test with the
#                      real servers and a 5-host test fleet (extra arguments:
#                      make test TESTARGS='--filter RollbackCoreTests')
#   make schema-test   check schema/runbook-v1.schema.json against the runbooks (python3-jsonschema)
#   make lint          swift format lint --strict
#   make release       swift build -c release --static-swift-stdlib (Swift's runtime linked in:
#                      a third less start-up time; see README, Performance)
#   make harness-up    start the test servers and keep them (see the printed hint)
#   make harness-down  stop them
#   make fleet-selftest start 3 sshd test hosts (scripts/harness/fleet), check them, tear them
#                      down ("N passed, M failed"; needs root)
#   make demo          deps, release build, then a whole incident on local services (scripts/demo);
#                      leaves nothing running or behind
#   make demo-fleet    deps, release build, then the incident on 3 local ssh hosts (scripts/demo-fleet:
#                      plan with batches, flag status per host, drift, an unreachable host; needs root);
#                      leaves nothing running or behind
#   make install       release binary, shell completions and man page under PREFIX (default
#                      /usr/local; DESTDIR honoured); make uninstall removes them.
#                      scripts/test-install (run by make test) checks it into a temporary DESTDIR
#   make bench         bench-deps, release build, then bench/run: assess and execute against the
#                      seed's bash (and Ansible), scaling and startup, on the harness (hyperfine);
#                      fleet: a rolling level on 5/20/50 test hosts vs a plain ssh script and
#                      Ansible (needs root; BENCH_FLEET_SIZES, BENCH_FLEET_RUNS)
#   make reliability   deps, release build, then reliability/run: crash safety, resume, lock,
#                      faults, fleet faults (a 3-host test fleet; needs root), fuzzing, secrets and
#                      idempotence, measured ("N passed, M failed")
#   make clean         remove .build

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

SWIFT ?= swift
TESTARGS ?=

# The toolchain lives in /opt/swift on the build machines; use it when swift is
# not on PATH already.
ifeq ($(shell command -v $(SWIFT) 2>/dev/null),)
  ifneq ($(wildcard /opt/swift/usr/bin/swift),)
    export PATH := $(PATH):/opt/swift/usr/bin
  endif
endif

DEPS_PACKAGES := libcurl4-openssl-dev libpq-dev postgresql prometheus supervisor python3 \
                 hyperfine python3-jsonschema python3-yaml acl openssh-server openssh-client \
                 python3-dotenv librsvg2-bin prometheus-alertmanager
# Only `make bench` needs these: the Ansible contender and GNU time for peak memory.
BENCH_PACKAGES := $(DEPS_PACKAGES) ansible-core time jq curl

HARNESS := scripts/harness
FLEET := $(HARNESS)/fleet
HARNESS_DIR_FILE := .build/harness-dir

# Debian's interpreter, which has python3-jsonschema and python3-yaml (a pyenv shim may not).
PYTHON3 ?= $(firstword $(wildcard /usr/bin/python3) python3)

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin
SHAREDIR := $(DESTDIR)$(PREFIX)/share
RELEASE_BIN := .build/release/rollback
RELEASE_FLAGS := -c release --static-swift-stdlib
COMPLETIONS_DIR := .build/completions
MAN_PAGE := .build/man/rollback.1
MAN_DATE := $(shell git log -1 --format=%cs 2>/dev/null)

.PHONY: deps bench-deps build test selftest fleet-selftest schema-test lint release harness-up harness-down demo demo-fleet bench clean \
        completions man install uninstall reliability

# $(call apt_install,PACKAGES): install those of PACKAGES that are missing (apt-get update first).
define apt_install
	@missing=""; \
	for pkg in $(1); do \
	  status=$$(dpkg -s "$$pkg" 2>/dev/null | sed -n 's/^Status: //p' || true); \
	  [ "$$status" = "install ok installed" ] || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	$$sudo apt-get update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing
endef

deps:
	$(call apt_install,$(DEPS_PACKAGES))

bench-deps:
	$(call apt_install,$(BENCH_PACKAGES))

build:
	$(SWIFT) build

selftest:
	$(HARNESS)/selftest

fleet-selftest:
	$(FLEET)/selftest

schema-test:
	$(PYTHON3) schema/tests/test_schema.py

test: deps build schema-test
	$(HARNESS)/selftest
	$(FLEET)/selftest
	scripts/test-install
	@# One test target at a time: the System suites time libcurl, libpq and process timeouts, and
	@# the CLI and fuzz suites would otherwise hold the cooperative threads of a 2-core machine.
	@# One test fleet (5 sshd hosts, host-3 with CRLF files) for every fleet test (most use 3).
	$(FLEET)/with-fleet -n 5 --crlf-host 3 -- $(HARNESS)/with-harness sh -c '$(SWIFT) build --build-tests && \
	  for target in RollbackSystemTests RollbackCoreTests RollbackCLITests; do \
	    $(SWIFT) test --skip-build --filter "$$target" $(TESTARGS) || exit 1; done'

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

release:
	$(SWIFT) build $(RELEASE_FLAGS)

harness-up:
	@mkdir -p .build
	@out=$$($(HARNESS)/up); \
	dir=$$(printf '%s\n' "$$out" | sed -n 's/^export ROLLBACK_HARNESS_DIR=//p'); \
	echo "$$dir" > $(HARNESS_DIR_FILE); \
	echo "harness running in $$dir"; \
	echo "  load its variables:  source $$dir/env.sh"; \
	echo "  stop it:             make harness-down"

harness-down:
	@dir="$${ROLLBACK_HARNESS_DIR:-}"; \
	if [ -z "$$dir" ] && [ -f $(HARNESS_DIR_FILE) ]; then dir=$$(cat $(HARNESS_DIR_FILE)); fi; \
	if [ -z "$$dir" ]; then echo "harness-down: no harness recorded (set ROLLBACK_HARNESS_DIR)"; exit 0; fi; \
	$(HARNESS)/down "$$dir"; \
	rm -f $(HARNESS_DIR_FILE)

demo: deps
	scripts/demo

demo-fleet: deps
	scripts/demo-fleet

# Shell completions, generated by swift-argument-parser from the release binary.
completions: release
	@mkdir -p $(COMPLETIONS_DIR)
	$(RELEASE_BIN) --generate-completion-script bash > $(COMPLETIONS_DIR)/rollback.bash
	$(RELEASE_BIN) --generate-completion-script zsh > $(COMPLETIONS_DIR)/_rollback
	$(RELEASE_BIN) --generate-completion-script fish > $(COMPLETIONS_DIR)/rollback.fish

# The man page, generated by swift-argument-parser's generate-manual plugin (works offline
# once the dependencies are checked out), dated by the last commit. Blank lines become
# paragraph breaks and the generic EXIT STATUS gives way to docs/rollback.1.tail (exit
# codes, environment, files). The plugin builds the package itself: in debug, so that it
# does not relink .build/release/rollback without the static Swift runtime.
man:
	$(SWIFT) package plugin generate-manual --configuration debug $(if $(MAN_DATE),--date $(MAN_DATE))
	@mkdir -p $(dir $(MAN_PAGE))
	{ sed -e '/^\.Sh "EXIT STATUS"/,$$d' -e 's/^$$/.Pp/' \
	    .build/plugins/GenerateManual/outputs/rollback/rollback.1; \
	  cat docs/rollback.1.tail; } > $(MAN_PAGE)
	@echo "man: $(MAN_PAGE)"

# The man page first, then the release build: what is installed is what `make release` builds,
# and it must not need the toolchain's libswift*.so (checked with ldd).
install: man completions
	$(SWIFT) build $(RELEASE_FLAGS)
	@if ldd $(RELEASE_BIN) | grep -q 'libswift'; then \
	  echo "install: $(RELEASE_BIN) links the toolchain's Swift runtime; refusing to install it" >&2; \
	  ldd $(RELEASE_BIN) | grep libswift >&2; exit 1; fi
	install -d $(BINDIR) $(SHAREDIR)/bash-completion/completions $(SHAREDIR)/zsh/site-functions \
	  $(SHAREDIR)/fish/vendor_completions.d $(SHAREDIR)/man/man1
	install -m 0755 $(RELEASE_BIN) $(BINDIR)/rollback
	install -m 0644 $(COMPLETIONS_DIR)/rollback.bash $(SHAREDIR)/bash-completion/completions/rollback
	install -m 0644 $(COMPLETIONS_DIR)/_rollback $(SHAREDIR)/zsh/site-functions/_rollback
	install -m 0644 $(COMPLETIONS_DIR)/rollback.fish $(SHAREDIR)/fish/vendor_completions.d/rollback.fish
	install -m 0644 $(MAN_PAGE) $(SHAREDIR)/man/man1/rollback.1
	@echo "installed rollback under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f $(BINDIR)/rollback $(SHAREDIR)/bash-completion/completions/rollback \
	  $(SHAREDIR)/zsh/site-functions/_rollback $(SHAREDIR)/fish/vendor_completions.d/rollback.fish \
	  $(SHAREDIR)/man/man1/rollback.1

bench: bench-deps release
	ROLLBACK_BIN=$(RELEASE_BIN) bench/run

# Runs the harness items under scripts/harness/with-harness itself; see reliability/run.
reliability: deps release
	$(PYTHON3) reliability/run

clean:
	rm -rf .build
