#!/usr/bin/env bash
# Sets up everything `make demo` and `make test` need, installing only what is missing:
# Debian's graphviz (for `dot`), a virtual environment at .venv, torch==2.13.0 first
# (a CPU build on these machines; a plain `torch` would pull gigabytes of CUDA packages),
# then the package with its extras. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.unidgm-installed

if ! command -v dot >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's graphviz (for the dot program)"
    (apt-get install -y -q graphviz >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null; }) \
      || echo "setup: could not install graphviz; diagrams fall back to DOT source" >&2
  else
    echo "setup: 'dot' is missing and apt-get is not usable; install Graphviz to render SVG/PNG" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if [ ! -f "$STAMP" ] || [ setup.cfg -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    echo "setup: installing torch==2.13.0"
    "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  fi
  echo "setup: installing unidgm[dev]"
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  touch "$STAMP"
fi
