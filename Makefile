# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The stamp changes with the requirements and the npm lock, so an edited pin reinstalls and
# nothing else does.
LOCKS := requirements.txt requirements-dev.txt package-lock.json
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) | sha1sum | cut -c1-12)
# Browser libraries: npm's standalone builds, copied here (git-ignored; never a CDN).
VENDOR := static/vendor

# The engine's compiled kernel (docs/backtests.md, "The compiled kernel"). -std=c11 and
# -ffp-contract=off keep every double operation exactly as Python's floats do it (no fused
# multiply-add); never -ffast-math or -march=native. The Dockerfile's builder stage runs the
# same command (keep the two in step).
KERNEL := backtesting/engine/libkernel.so
KERNEL_CFLAGS := -std=c11 -O2 -ffp-contract=off -fno-fast-math -fPIC -shared -Wall -Wextra -Werror

.PHONY: run test install kernel system-packages lint typecheck importcheck check ci bench fuzz mutation clean

run: install .env ## install, migrate, load the demo, serve on 127.0.0.1:8000 with a worker
	@DJANGO_ENV=$${DJANGO_ENV:-dev} deploy/dev/serve.sh

test: install ## the whole suite with coverage (PostgreSQL/Redis when reachable)
	@deploy/dev/test.sh $(PYTEST_ARGS)

install: $(STAMP) $(KERNEL)

kernel: $(KERNEL) ## build the engine's compiled kernel only

$(KERNEL): backtesting/engine/kernel.c
	$(CC) $(KERNEL_CFLAGS) -o $@.tmp $< -lm && mv -f $@.tmp $@

$(STAMP): $(LOCKS) package.json static/src/codemirror-bundle.js
	@deploy/dev/system-packages.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@rm -rf $(VENDOR) && mkdir -p $(VENDOR)/lightweight-charts $(VENDOR)/echarts $(VENDOR)/codemirror
	cp node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs \
	   node_modules/lightweight-charts/LICENSE $(VENDOR)/lightweight-charts/
	cp node_modules/echarts/dist/echarts.esm.min.mjs node_modules/echarts/LICENSE $(VENDOR)/echarts/
	@# CodeMirror ships as many ES modules with bare imports: esbuild bundles the pieces we use.
	node_modules/.bin/esbuild static/src/codemirror-bundle.js --bundle --format=esm --minify \
	   --legal-comments=eof --log-level=warning --outfile=$(VENDOR)/codemirror/codemirror.mjs
	@rm -f $(VENV)/.installed-* && touch $@

.env:
	@deploy/dev/make-dotenv.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	DJANGO_ENV=test $(VENV)/bin/mypy

importcheck: install
	$(VENV)/bin/lint-imports

check: lint typecheck importcheck

ci: ## what .ci/run does, against the real services
	bash .ci/run

bench: install ## every benchmark, each printing ratios against its baseline
	$(PIP) install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) -m benchmarks $(BENCH)

mutation: install ## mutation testing of the core (docs/testing.md): MODULES="sizing orders" picks some
	nice -n 19 $(PY) -m benchmarks.mutation $(MODULES)

fuzz: install ## the schema fuzz for longer: FUZZ_SECONDS (default 600), FUZZ_SEED to replay
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} TEST_PROCESSES=0 deploy/dev/test.sh tests/fuzz/test_schema_fuzz.py \
	   --no-cov -p no:cacheprovider -s

audit: ## known vulnerabilities in the pinned Python and npm dependencies (needs the network)
	@deploy/dev/audit.sh

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage
