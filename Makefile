# The README's two commands. Each runs the idempotent set-up first (tools/setup.sh) and,
# afterwards, stops a Docker engine only if the set-up started it (tools/teardown.sh).
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup gate test test-fast lint clean-stacks

setup:
	@tools/setup.sh

# The main job: the gate against throwaway copies of the reference stack; reports in reports/.
# --parallel: the experiments on a copy of their own, the other checks on a shared one, the deploy
# suite's own project beside them (one xdist worker per part, one report).
gate: setup
	@$(PY) -m pytest --pyargs stackprobe.suites --target ephemeral --profile profiles/reference.toml --parallel $(PYTEST_ARGS); \
	  status=$$?; tools/teardown.sh; exit $$status

# The project's own tests: unit, plugin (pytester), the stack, the defects matrix. Three xdist
# workers, a module each at a time, longest first (tests/conftest.py; xdist's own order, most
# tests first, would leave a long module of few tests to the end); tests marked `alone` hold the
# other workers' Docker tests off while they run (tests/support/engine_lock.py).
TEST_WORKERS ?= 3
test: setup
	@$(PY) -m pytest tests --report-dir=none -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 $(PYTEST_ARGS); \
	  status=$$?; tools/teardown.sh; exit $$status

# Fast tier, no Docker engine needed: about a minute (two pytest-xdist workers; nothing in it
# shares a stack or measures time against a bound).
test-fast:
	$(PY) -m pytest tests --report-dir=none -m "not needs_docker" -n 2 $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy

# Every kind of leftover of killed runs (owner process gone): copies of the stack, throwaway
# containers/volumes/images, scratch directories, fault records of removed copies
# (stackprobe.leftovers); never a running run's.
clean-stacks:
	$(PY) -m stackprobe.leftovers
