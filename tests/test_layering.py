"""DESIGN, "Layering runs one way": graph/ imports nothing from inference/, models/, viz/ or
train/; inference/ nothing from models/, train/ or eval/. Read from the source, imports inside
functions included."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "unidgm"
FORBIDDEN = {"graph": ("inference", "models", "viz", "train", "eval"), "inference": ("models", "train", "eval")}


def _imports(path: Path, package: str):
    """The unidgm subpackages a module imports (absolute or relative)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").startswith("unidgm."):
                yield node.module.split(".")[1]
            elif node.level >= 2:  # from ..x import y, seen from unidgm/<package>/...
                depth = len(path.relative_to(PACKAGE).parts) - 1
                if node.level == depth + 1 and node.module:
                    yield node.module.split(".")[0]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("unidgm."):
                    yield alias.name.split(".")[1]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package):
    bad = [(str(path.relative_to(PACKAGE)), name) for path in sorted((PACKAGE / package).rglob("*.py"))
           for name in _imports(path, package) if name in FORBIDDEN[package]]
    assert bad == []
