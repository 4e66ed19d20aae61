# minid — the two commands a new user needs:
#   make        set everything up (system packages, npm packages, build, images) and run the demo
#   make test   run all tests (unit + privileged integration tests; run as root)
#   make bench  benchmarks on demand: QUICK=1 for fewer runs, PEERS=1 adds docker/podman (bench/README.md)
SHELL := /bin/bash
PREFIX ?= /usr/local
CNI_BIN ?= /opt/cni/bin
IMAGES_OUT ?= .images

.PHONY: all setup deps build native images install cni-install cni-uninstall demo test test-unit test-integration bench clean

all: setup demo

setup: deps build images install

deps:
	bash scripts/install-deps.sh all
	npm ci --no-audit --no-fund

build: native
	node_modules/.bin/tsc -p tsconfig.json
	node scripts/bundle.mjs

NATIVE := build/minid-init build/minid-spawner build/minid-devices build/minid-logger build/minid-console build/minid-loopback
native: $(NATIVE)

# The C helpers, compiled by scripts/native.sh (which `npm pack` and `npm install` use too).
# minid-init links libseccomp statically; minid-logger is the host-side writer of container
# logs (one small process per container, no Node); minid-console holds a container's terminal
# (-t) on the host, and `attach` connects to it. minid-loopback is the CNI plugin of that name
# (cni-plugins/bin/minid-loopback runs it).
$(NATIVE) &: src/runtime/init.c src/sys/spawner.c src/runtime/devices.c src/runtime/logger.c src/runtime/console.c cni-plugins/loopback/main.c scripts/native.sh
	sh scripts/native.sh build build cc

# The OCI layouts are built once into $(IMAGES_OUT) (offline, from Debian packages); `images`
# also loads them into minid's store on this host.
IMAGES_STAMP := $(IMAGES_OUT)/.built
$(IMAGES_STAMP): $(wildcard images/*.sh images/*/*)
	bash images/build.sh all $(IMAGES_OUT)
	touch $@

images: build $(IMAGES_STAMP)
	./bin/minid load -i $(IMAGES_OUT)/busybox
	./bin/minid load -i $(IMAGES_OUT)/nginx

install: build cni-install
	ln -sf $(CURDIR)/bin/minid $(PREFIX)/bin/minid

# minid's own CNI plugins into /opt/cni/bin (as minid-*), and its default conflist.
cni-install: build
	bash cni-plugins/install.sh

cni-uninstall:
	bash cni-plugins/install.sh --uninstall

demo:
	bash scripts/demo.sh

test: build $(IMAGES_STAMP)
	npx vitest run

test-unit: build
	npx vitest run test/unit

test-integration: build $(IMAGES_STAMP)
	npx vitest run test/integration

bench: build
	bash bench/run.sh

clean:
	rm -rf dist build
