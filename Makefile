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

.PHONY: install run test dist fuzz soak lint bench-load bench-linking bench bench-growth bench-recs bench-deps neo4j-stop clean

$(BIN)/.installed: pyproject.toml $(wildcard tests/plugin_example/pyproject.toml) $(wildcard examples/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,evaluate,insights]'
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
	# What the built-in strategies serve from (rankings, item-to-item, the model,
	# affinities), derived once: run `tightrope recompute` again after new data.
	$(BIN)/tightrope recompute --if-never-run
	$(BIN)/tightrope serve --host 127.0.0.1 --port 8000

test: install
	env -u NEO4J_URI $(BIN)/tightrope neo4j start --port $(TEST_PORT)
	env -u NEO4J_URI -u NEO4J_USER -u NEO4J_PASSWORD -u NEO4J_DATABASE \
		TIGHTROPE_NEO4J_PORT=$(TEST_PORT) $(BIN)/pytest $(PYTEST_ARGS)

# `make dist`: tightrope's wheel in dist/, to install into an environment of
# your own (a plugin author's: docs/plugin-tutorial.md). Built with the
# environment's setuptools, nothing fetched.
dist: install
	rm -rf build dist/tightrope-*.whl
	$(BIN)/pip wheel -q --no-deps --no-build-isolation --wheel-dir dist .
	rm -rf build
	@ls dist/tightrope-*.whl

# `make fuzz`: the generated hostile input of tests/gateway/test_hostile.py at
# length (make test runs it with a fixed seed and a bounded count).
FUZZ_EXAMPLES ?= 2000
fuzz: export TIGHTROPE_FUZZ_EXAMPLES = $(FUZZ_EXAMPLES)
fuzz:
	$(MAKE) test PYTEST_ARGS="-q tests/gateway/test_hostile.py -k generated $(PYTEST_ARGS)"

# `make soak`: a served gateway under a steady mixed load (bench/soak.py); not a
# test. It loads the demo retailer into the Neo4j on SOAK_PORT if that is empty.
SOAK_PORT ?= 7690
SOAK_ARGS ?= --duration 600 --rate 50
soak: install
	env -u NEO4J_URI $(BIN)/tightrope neo4j start --port $(SOAK_PORT)
	env -u NEO4J_URI -u NEO4J_USER -u NEO4J_PASSWORD -u NEO4J_DATABASE \
		TIGHTROPE_NEO4J_PORT=$(SOAK_PORT) $(BIN)/python -m bench.soak $(SOAK_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench-load: install
	env -u NEO4J_URI $(BENCH_MEMORY) $(BIN)/tightrope neo4j start --port $(BENCH_PORT)
	env -u NEO4J_URI TIGHTROPE_NEO4J_PORT=$(BENCH_PORT) $(BIN)/python -m bench.load $(BENCH_ARGS)

# `make bench-linking`: p95 time to decide the links of one incoming event with
# 100k devices in the graph (bench/linking.py; builds its graph the first time).
LINKING_BENCH_PORT ?= 7697
bench-linking: install
	env -u NEO4J_URI $(BENCH_MEMORY) $(BIN)/tightrope neo4j start --port $(LINKING_BENCH_PORT)
	env -u NEO4J_URI $(BIN)/python -m bench.linking --port $(LINKING_BENCH_PORT) $(BENCH_ARGS)

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

# `make bench-recs`: p50/p95/p99 of a customer's and a first visit's
# recommendations on demo graphs of 10k, 100k and 1M events (bench/recs.py),
# each on a Neo4j of its own (RECS_PORTS, one per size) so that `make bench`'s
# graph stays up.
RECS_PORTS ?= 7724,7725,7726
comma := ,
bench-recs: $(BIN)/.bench-installed
	@command -v wrk >/dev/null || { echo "make bench-recs needs wrk (Debian: apt-get install -y wrk)" >&2; exit 1; }
	env -u NEO4J_URI $(BIN)/python -m bench.recs --neo4j-ports $(RECS_PORTS) $(BENCH_ARGS)

neo4j-stop:
	-$(BIN)/tightrope neo4j stop
	-$(BIN)/tightrope neo4j stop --port $(TEST_PORT)
	-$(BIN)/tightrope neo4j stop --port $(BENCH_PORT)
	-for port in $(subst $(comma), ,$(RECS_PORTS)); do $(BIN)/tightrope neo4j stop --port $$port; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
