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

.PHONY: install run test lint bench-load neo4j-stop clean

$(BIN)/.installed: pyproject.toml $(wildcard tests/plugin_example/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,evaluate]'
	# The evaluation's data set only: recbole's own dependencies are not needed to read it.
	$(BIN)/pip install -q --no-deps 'recbole==1.2.1'
	if [ -d tests/plugin_example ]; then $(BIN)/pip install -q -e tests/plugin_example; fi
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

neo4j-stop:
	-$(BIN)/tightrope neo4j stop
	-$(BIN)/tightrope neo4j stop --port $(TEST_PORT)
	-$(BIN)/tightrope neo4j stop --port $(BENCH_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
