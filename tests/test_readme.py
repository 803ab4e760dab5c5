"""The README's Python examples run as written (STYLE rule 12), in order, in one namespace."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # the examples write runs/ under the working directory
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
    assert (tmp_path / "runs" / "readme-vae" / "best.pt").exists()
    assert namespace["resumed"]["steps"] > namespace["summary"]["steps"]


def test_readme_opens_with_the_two_commands():
    head = "\n".join(README.read_text().splitlines()[:8])
    assert "make demo" in head and "make test" in head
