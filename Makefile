# Developer entry points. CI runs `make test` (see .ci/run).
#
#   make build          build the imagegate binary (debug)
#   make test           install the test tools, start the engines, import the base images, build
#                       the test images, run every test
#   make long-run       the fault-injection long run (100 registry commands through a proxy that
#                       injects 5xx, resets and stalls; several minutes): after `make test` or
#                       `make engines`; IMAGEGATE_LONG_RUN_SEED=N repeats a schedule
#   make demo           the whole gate on examples/demo (docker; IMAGEGATE_ENGINE=podman for podman;
#                       IMAGEGATE=PATH to run a given binary instead of building this checkout's);
#                       keeps its HTML and Markdown reports in target/demo-reports
#   make lint           rustfmt, clippy (warnings are errors), shellcheck when installed
#   make clean-engines  remove containers left behind by imagegate runs (label io.imagegate.run)
#                       and the engines' dangling images (the build steps tests leave behind)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

CARGO ?= cargo
# Tools installed from PyPI (linters, syft) live in the interpreter's scripts folder.
PYTHON_SCRIPTS := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
export PATH := $(if $(PYTHON_SCRIPTS),$(PYTHON_SCRIPTS):)$(PATH)
ENGINES := scripts/engines.sh
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
IMAGEGATE_BIN := $(TARGET_DIR)/debug/imagegate
DEMO_ENGINE := $(or $(IMAGEGATE_ENGINE),docker)
SHELL_SCRIPTS := scripts/engines.sh scripts/test-tools.sh scripts/test-images.sh scripts/fuzz.sh .ci/run examples/demo/demo.sh
DEMO_SH_SCRIPTS := $(wildcard examples/demo/project/tests/*.sh examples/demo/project/src/*.sh \
	examples/demo/packages/*/*/*.sh)

.PHONY: build test long-run engines demo lint clean-engines

build:
	$(CARGO) build -p imagegate

engines:
	@scripts/test-tools.sh all
	@$(ENGINES) all
	@$(ENGINES) base-image
	@scripts/test-images.sh

# nextest runs the tests (parallel, retries, JUnit); it does not run doctests, so those follow.
# The failpoints feature gives the integration tests a binary they can stop and kill at each
# step of build, run, record and move (tests/it/crashes.rs); release builds never have it.
TEST_FEATURES := --features imagegate/failpoints

test: engines
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "cargo nextest run --workspace --no-fail-fast $(TEST_FEATURES)"; \
		$(CARGO) nextest run --workspace --no-fail-fast $(TEST_FEATURES); \
		echo "cargo test --workspace --doc --quiet"; \
		$(CARGO) test --workspace --doc --quiet; \
	else \
		echo "cargo-nextest not installed; running cargo test instead"; \
		$(CARGO) test --workspace --no-fail-fast $(TEST_FEATURES); \
	fi

# Left out of `make test` (nextest skips ignored tests) because it takes minutes; CI runs it
# right after (.ci/run).
long-run:
	$(CARGO) nextest run -p imagegate --run-ignored ignored-only --no-capture $(TEST_FEATURES) long_run

# The binary: IMAGEGATE when given; else this checkout's, built (a no-op once it is up to date);
# else, without cargo, an imagegate already on PATH.
demo:
	@$(ENGINES) $(DEMO_ENGINE)
	@$(ENGINES) base-image $(DEMO_ENGINE)
	@bin="$${IMAGEGATE:-}"; \
	if [[ -z "$$bin" ]] && command -v $(CARGO) >/dev/null 2>&1; then \
		echo "$(CARGO) build -p imagegate"; \
		$(CARGO) build -p imagegate; \
		bin=$(IMAGEGATE_BIN); \
	elif [[ -z "$$bin" ]]; then \
		bin=$$(command -v imagegate) || { \
			echo "make demo: no cargo to build imagegate and no imagegate on PATH;" \
				"install Rust 1.88 or newer (https://rustup.rs) or set IMAGEGATE=/path/to/imagegate" >&2; \
			exit 2; }; \
	fi; \
	echo "imagegate: $$bin ($$("$$bin" --version))"; \
	IMAGEGATE="$$bin" IMAGEGATE_ENGINE=$(DEMO_ENGINE) examples/demo/demo.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@if command -v shellcheck >/dev/null 2>&1; then \
		echo "shellcheck $(SHELL_SCRIPTS)"; \
		shellcheck $(SHELL_SCRIPTS); \
		echo "shellcheck -x -s sh (demo project)"; \
		shellcheck -x -s sh $(DEMO_SH_SCRIPTS); \
	else \
		echo "shellcheck not installed; shell scripts not linted"; \
	fi

clean-engines:
	@for engine in docker podman; do \
		command -v $$engine >/dev/null 2>&1 && $$engine info >/dev/null 2>&1 || continue; \
		ids=$$($$engine ps -aq --filter label=io.imagegate.run); \
		if [[ -n "$$ids" ]]; then \
			count=$$(wc -w <<<"$$ids"); word=containers; [[ $$count == 1 ]] && word=container; \
			echo "$$engine: removing $$count $$word labelled io.imagegate.run"; \
			$$engine rm -f $$ids >/dev/null; \
		else \
			echo "$$engine: no containers labelled io.imagegate.run"; \
		fi; \
		echo "$$engine: removing dangling images (build steps the tests leave behind)"; \
		$$engine image prune -f >/dev/null; \
	done
