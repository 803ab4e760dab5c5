"""Training: the one loop (`Trainer`), its options (`TrainConfig`) and its checkpoints.

    from unidgm.train import Trainer
    summary = Trainer(model, data, epochs=20, out="runs/vae").fit()
    Trainer(model, data, resume=True, out="runs/vae", epochs=40).fit()   # continue exactly
"""

from unidgm.train.checkpoint import load_checkpoint, save_checkpoint
from unidgm.train.config import TrainConfig
from unidgm.train.trainer import Trainer

__all__ = ["Trainer", "TrainConfig", "save_checkpoint", "load_checkpoint"]
