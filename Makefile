# rollback — build, test and CI entry points.
#
#   make deps          install the missing Debian packages (apt-get; needs root or sudo)
#   make build         swift build
#   make test          deps, build, schema test, harness self-test, then swift test with the
#                      real servers (extra arguments: make test TESTARGS='--filter RollbackCoreTests')
#   make schema-test   check schema/runbook-v1.schema.json against the runbooks (python3-jsonschema)
#   make lint          swift format lint --strict
#   make release       swift build -c release
#   make harness-up    start the test servers and keep them (see the printed hint)
#   make harness-down  stop them
#   make demo          deps, release build, then a whole incident on local services (scripts/demo);
#                      leaves nothing running or behind
#   make bench         bench/assess.sh: rollback assess vs the seed's bash procedure (hyperfine)
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
                 hyperfine python3-jsonschema python3-yaml

HARNESS := scripts/harness
HARNESS_DIR_FILE := .build/harness-dir

# Debian's interpreter, which has python3-jsonschema and python3-yaml (a pyenv shim may not).
PYTHON3 ?= $(firstword $(wildcard /usr/bin/python3) python3)

.PHONY: deps build test selftest schema-test lint release harness-up harness-down demo bench clean

deps:
	@missing=""; \
	for pkg in $(DEPS_PACKAGES); do \
	  status=$$(dpkg -s "$$pkg" 2>/dev/null | sed -n 's/^Status: //p' || true); \
	  [ "$$status" = "install ok installed" ] || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	$$sudo apt-get update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing

build:
	$(SWIFT) build

selftest:
	$(HARNESS)/selftest

schema-test:
	$(PYTHON3) tests/schema/test_schema.py

test: deps build schema-test
	$(HARNESS)/selftest
	$(HARNESS)/with-harness $(SWIFT) test $(TESTARGS)

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

release:
	$(SWIFT) build -c release

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

bench:
	bench/assess.sh

clean:
	rm -rf .build
