# Portcullis: `make run` starts the gateway on config/quickstart, `make test` runs the whole test suite.
#
# Variables you may override:  SWIFT=swift  SWIFTPM_FLAGS="--scratch-path .build-x"  CONFIG=config/quickstart
#                              ARGS="--log-level debug" (extra `portcullis run` arguments)  SCENARIO=small

SWIFT         ?= swift
SWIFTPM_FLAGS ?=
CONFIG        ?= config/quickstart
ARGS          ?=
SCENARIO      ?= small

# System packages the build needs (Debian/Ubuntu names); curl is used by the integration tests too.
BUILD_PACKAGES := libssl-dev libnghttp2-dev zlib1g-dev pkg-config curl
# Commands the integration tests run (here the command and the package have the same name).
TEST_TOOLS     := curl python3 openssl
# Debian packages whose commands have other names: nghttp2-client brings nghttp and h2load.
TEST_PACKAGES  := nghttp2-client

SWIFT_BUILD := $(SWIFT) build $(SWIFTPM_FLAGS)

.DEFAULT_GOAL := help
.PHONY: help deps test-tools build release run test loadtest clean protos

help:
	@echo 'make run       install missing system packages, build in release, serve $(CONFIG) on :8080'
	@echo 'make test      install missing system packages and test tools, build, run all tests'
	@echo 'make build     debug build          make release   release build of the portcullis binary'
	@echo 'make loadtest  compare Portcullis with nginx (see loadtest/run.sh; SCENARIO=small|16k|close|tls|tls-handshake)'
	@echo 'make clean     remove build products'
	@echo 'make protos    regenerate Sources/PortcullisXDSProto from its .proto files (needs the protoc plugins; not run by CI)'

# apt_install: install the Debian packages in $(1) that dpkg does not report as installed.
# As root it runs apt-get itself; otherwise through sudo when there is one; otherwise it prints the command and fails.
# On systems without dpkg it only prints a note: install the equivalents yourself.
define apt_install
	@missing=""; \
	if [ -z "$(strip $(1))" ]; then exit 0; fi; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
	    echo "note: no dpkg here; make sure these (or their equivalents) are installed: $(strip $(1))"; exit 0; \
	fi; \
	for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "installing missing packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "error: missing packages:$$missing; run as root: apt-get update && apt-get install -y$$missing" >&2; exit 1; \
	fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing
endef

deps:
	$(call apt_install,$(BUILD_PACKAGES))

# Python packages the tests use (PACKAGE:MODULE): kubernetes-validate checks config/kubernetes; grpcio and h2 are the
# gRPC peer and the HTTP/2 origin of the integration tests; grpcio-tools (protoc, with protobuf) compiles the xDS
# schema for the test control plane Tests/Fixtures/xds_control_plane.py.
PIP_TOOLS      := kubernetes-validate:kubernetes_validate grpcio:grpc h2:h2 grpcio-tools:grpc_tools xds-protos:envoy

# Test tools are checked as commands (python3 may come from pyenv or similar), installed with apt when absent;
# Python packages are installed with pip when python3 cannot import them (pip itself from apt when missing; on a
# system Python that refuses pip installs (PEP 668), --break-system-packages is the fallback).
test-tools: deps
	$(call apt_install,$(foreach t,$(TEST_TOOLS),$(if $(shell command -v $(t) 2>/dev/null),,$(t))))
	$(call apt_install,$(TEST_PACKAGES))
	$(call apt_install,$(if $(shell python3 -m pip --version 2>/dev/null),,python3-pip))
	@for entry in $(PIP_TOOLS); do \
	    package=$${entry%%:*}; module=$${entry##*:}; \
	    python3 -c "import $$module" 2>/dev/null && continue; \
	    echo "installing $$package with pip"; \
	    python3 -m pip install --quiet "$$package" 2>/dev/null \
	        || python3 -m pip install --quiet --break-system-packages "$$package" || exit 1; \
	done

build: deps
	$(SWIFT_BUILD)

release: deps
	$(SWIFT_BUILD) -c release --product portcullis

run: release
	"$$($(SWIFT_BUILD) -c release --show-bin-path)/portcullis" run --config $(CONFIG) $(ARGS)

# Integration tests start the real binary: PORTCULLIS_BINARY points them at the debug build made first. Tests run
# one at a time (--no-parallel): many wait on real processes, and on a 2-core machine parallel suites starve the
# concurrency pool that the waiting ones need, which shows up as timeouts, not as speed.
test: test-tools
	$(SWIFT_BUILD) --product portcullis
	$(SWIFT_BUILD) --build-tests
	PORTCULLIS_BINARY="$${PORTCULLIS_BINARY:-$$($(SWIFT_BUILD) --show-bin-path)/portcullis}" \
	    $(SWIFT) test $(SWIFTPM_FLAGS) --skip-build --no-parallel

loadtest: deps
	SWIFT="$(SWIFT)" SWIFTPM_FLAGS="$(SWIFTPM_FLAGS)" loadtest/run.sh $(SCENARIO)

clean:
	$(SWIFT) package $(SWIFTPM_FLAGS) clean
	rm -rf loadtest/out

# Regenerates the committed Swift code of PortcullisXDSProto from Sources/PortcullisXDSProto/proto/.
# Not run by CI or by any other target: the generated files are committed. Needs protoc (or pip's grpcio-tools) and
# PROTOC_GEN_SWIFT / PROTOC_GEN_GRPC_SWIFT pointing at protoc-gen-swift (swift-protobuf 1.39.0) and
# protoc-gen-grpc-swift-2 (grpc-swift-protobuf 2.4.1), both built outside the repository.
protos:
	bash Sources/PortcullisXDSProto/generate.sh
