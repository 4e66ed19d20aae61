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
	bash scripts/install-deps.sh
	npm ci --no-audit --no-fund

build: native
	npx tsc -p tsconfig.json
	node scripts/bundle.mjs

native: build/minid-init build/minid-spawner build/minid-devices build/minid-logger build/minid-console

build/minid-spawner: src/sys/spawner.c
	@mkdir -p build
	cc -O2 -Wall -Wextra -o $@ $<

# libseccomp linked in statically: minid-init needs no library of the host's but libc (it also
# runs inside containers, through /proc/self/exe, with the container's dynamic loader).
build/minid-init: src/runtime/init.c
	@mkdir -p build
	cc -O2 -Wall -Wextra -o $@ $< -Wl,-Bstatic -lseccomp -Wl,-Bdynamic

# The host-side writer of container logs (one small process per container, no Node).
build/minid-logger: src/runtime/logger.c
	@mkdir -p build
	cc -O2 -Wall -Wextra -o $@ $<

# The host-side holder of a container's terminal (-t): `attach` connects to it.
build/minid-console: src/runtime/console.c
	@mkdir -p build
	cc -O2 -Wall -Wextra -o $@ $<

build/minid-devices: src/runtime/devices.c
	@mkdir -p build
	cc -O2 -Wall -Wextra -o $@ $<

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
