# The two commands a newcomer runs: `make demo` and `make test`.
# Each sets up what is missing (scripts/setup.sh), then runs.
PY := .venv/bin/python
DEMO_OUT ?= runs/demo

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m unidgm.cli train vae --data digits --minutes 2 --out $(DEMO_OUT)
	$(PY) -m unidgm.cli eval $(DEMO_OUT) --k 1000
	$(PY) -m unidgm.cli sample $(DEMO_OUT)
	@echo "demo: pictures, metrics and checkpoint in $(DEMO_OUT)/"

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/quality.py

clean:
	rm -rf runs .pytest_cache build *.egg-info
