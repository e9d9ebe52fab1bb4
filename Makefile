# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The test server has its own port and data, so tests never touch `make run`'s graph.
TEST_PORT ?= 7688
# The load benchmark gets a server of its own with more memory: on the test
# server's 1g heap and 512m page cache, 1M events loaded at 2,355 events/s
# against 15,124 with 2g and 2g (same machine, same hour).
BENCH_PORT ?= 7689
BENCH_MEMORY := TIGHTROPE_NEO4J_HEAP=2g TIGHTROPE_NEO4J_PAGECACHE=2g

.PHONY: install run test lint bench-load bench bench-growth bench-deps neo4j-stop clean

$(BIN)/.installed: pyproject.toml $(wildcard tests/plugin_example/pyproject.toml) $(wildcard examples/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,evaluate]'
	# The evaluation's data set only: recbole's own dependencies are not needed to read it.
	$(BIN)/pip install -q --no-deps 'recbole==1.2.1'
	if [ -d tests/plugin_example ]; then $(BIN)/pip install -q -e tests/plugin_example; fi
	# The worked example plugins (examples/): the suite runs their tests and serves them.
	for example in examples/*/; do $(BIN)/pip install -q -e "$$example"; done
	touch $@

install: $(BIN)/.installed

# `make run` is for development: GraphiQL on, and the development PII key allowed.
run: export TIGHTROPE_DEV_MODE ?= true
run: install
	@if [ -z "$$NEO4J_URI" ]; then $(BIN)/tightrope neo4j start; fi
	$(BIN)/tightrope graph migrate
	$(BIN)/tightrope load demo --if-empty
	$(BIN)/tightrope serve --host 127.0.0.1 --port 8000

test: install
	env -u NEO4J_URI $(BIN)/tightrope neo4j start --port $(TEST_PORT)
	env -u NEO4J_URI -u NEO4J_USER -u NEO4J_PASSWORD -u NEO4J_DATABASE \
		TIGHTROPE_NEO4J_PORT=$(TEST_PORT) $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench-load: install
	env -u NEO4J_URI $(BENCH_MEMORY) $(BIN)/tightrope neo4j start --port $(BENCH_PORT)
	env -u NEO4J_URI TIGHTROPE_NEO4J_PORT=$(BENCH_PORT) $(BIN)/python -m bench.load $(BENCH_ARGS)

# `make bench`: tightrope against @neo4j/graphql and the raw driver on one seeded
# graph (bench/README.md). Not a test: it needs wrk (Debian) and Node's npm, and
# installs the `bench` extra (matplotlib, py-spy) and the peer's locked packages.
$(BIN)/.bench-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

bench-deps: $(BIN)/.bench-installed bench/peer/node_modules/.installed
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; } || true
	@command -v wrk >/dev/null || { echo "make bench needs wrk (Debian: apt-get install -y wrk)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "make bench needs Node.js 20+ and npm (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }

# The peer's packages, exactly as locked; again only when the lock file changes.
bench/peer/node_modules/.installed: bench/peer/package-lock.json
	cd bench/peer && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: bench-deps
	env -u NEO4J_URI $(BIN)/python -m bench.run --neo4j-port $(BENCH_PORT) $(BENCH_ARGS)

# `make bench-growth`: W1 and W3 p95 of the gateway on graphs of 0.2M, 2M and
# 20M events (the 20M graph takes long to build the first time).
bench-growth: bench-deps
	env -u NEO4J_URI $(BIN)/python -m bench.growth --neo4j-port $(BENCH_PORT) $(BENCH_ARGS)

neo4j-stop:
	-$(BIN)/tightrope neo4j stop
	-$(BIN)/tightrope neo4j stop --port $(TEST_PORT)
	-$(BIN)/tightrope neo4j stop --port $(BENCH_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
