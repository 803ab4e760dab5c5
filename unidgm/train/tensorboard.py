"""Optional TensorBoard logging of a run's evaluations (``TrainConfig.tensorboard``).

Each record the Trainer writes to ``metrics.jsonl`` also goes to TensorBoard event files in
``out/tensorboard/``, one scalar per key (``train/elbo/kl``, ``val/elbo``, ...) at the record's
step; view them with ``tensorboard --logdir out/tensorboard``. The ``tensorboard`` package is
imported here only, when a run asks for it.
"""

from __future__ import annotations

import math
from pathlib import Path

from unidgm.errors import ConfigError

_NOT_SCALARS = ("step", "epoch")


class TensorBoardLog:
    """Writes evaluation records as TensorBoard scalars."""

    def __init__(self, folder: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:  # torch imports the tensorboard package lazily
            raise ConfigError(
                "TrainConfig field 'tensorboard' = True needs the tensorboard package, which is "
                f"not installed ({error}); install it with `pip install tensorboard` (or "
                "`pip install -e .[tensorboard]`), or train without --tensorboard."
            ) from None
        self.folder = Path(folder)
        self._writer = SummaryWriter(log_dir=str(self.folder))

    def append(self, record: dict) -> None:
        step = int(record["step"])
        for key, value in record.items():
            if key in _NOT_SCALARS or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if math.isfinite(value):
                self._writer.add_scalar(key, value, step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
