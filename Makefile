# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench lint install clean chromium redis

# setuptools 77+ reads the SPDX license; tests/test_packaging.py builds the wheel without build
# isolation, with the venv's setuptools
$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=77"
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/shoprec demo

# browser tests drive Debian's chromium (never `playwright install`); installing it needs root
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make test: the browser tests need Debian's chromium, not on PATH, and only" \
				"root can install it; as root run: apt-get install chromium chromium-driver" >&2; \
			exit 1; \
		fi; \
		command -v apt-get >/dev/null 2>&1 || { \
			echo "make test: the browser tests need Chromium as \`chromium\` on PATH" >&2; exit 1; }; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# the Redis stores are tested against a real server on 127.0.0.1:6379: start one as .ci/run does
REDIS_PING := $(BIN)/python -c "import redis; redis.Redis(port=6379, socket_timeout=1).ping()"
redis: $(STAMP)
	@$(REDIS_PING) 2>/dev/null && exit 0; \
	command -v redis-server >/dev/null 2>&1 || { \
		echo "make test needs Redis: the Redis stores are tested against a real server, and none" \
			"answers on 127.0.0.1:6379; install the Debian package redis-server" \
			"(apt-get install redis-server) and run make test again" >&2; \
		exit 1; }; \
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
		>/dev/null; \
	for _ in $$(seq 1 20); do $(REDIS_PING) 2>/dev/null && exit 0; sleep 0.5; done; \
	echo "make test: started redis-server, but nothing answers on 127.0.0.1:6379" >&2; exit 1

test: $(STAMP) chromium redis
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/shoprec bench
	$(BIN)/python bench/serving.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy src/shoprec/data src/shoprec/store src/shoprec/online src/shoprec/serving

clean:
	rm -rf $(VENV) artifacts runs .pytest_cache
