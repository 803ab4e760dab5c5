"""`MetricsLog`: the run's ``metrics.jsonl``, one JSON object per evaluation.

Each line reads ``{"step": 200, "epoch": 1.0, "time": 12.3, "train/loss": 98.1,
"val/elbo": -97.5, ...}``. Values that are not finite are written as ``null`` so that every
line is strict JSON. A resumed run first drops the lines written after its checkpoint, so
the file reads as if the run had never stopped.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from unidgm.train.checkpoint import atomic_write


class MetricsLog:
    """Appends evaluation records to a JSON-lines file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def reset(self) -> None:
        """Start an empty file (a fresh run)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")

    def truncate_after(self, step: int) -> None:
        """Keep only the records of steps <= `step` (a run resumed from that step)."""
        if not self.path.is_file():
            return
        kept = [line for line in self.read() if line.get("step", 0) <= step]
        text = "".join(json.dumps(record) + "\n" for record in kept)
        atomic_write(self.path, lambda f: f.write(text.encode("utf-8")))

    def append(self, record: dict) -> None:
        """Write one record as a line, flushed at once so a crash loses nothing."""
        clean = {k: _finite_or_none(v) for k, v in record.items()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(clean) + "\n")

    def read(self) -> list[dict]:
        """Every record in the file, skipping a last line cut short by a crash."""
        records = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
