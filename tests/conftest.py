"""Suite-wide settings. Tests run single-threaded: the models here are tiny, and torch's
intra-op threads only add synchronisation (tens of times slower when the machine is busy)."""
import torch

torch.set_num_threads(1)
