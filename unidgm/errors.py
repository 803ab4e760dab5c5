"""One exception hierarchy for everything a user can get wrong.

Every message names the node, edge, file or field at fault and says the fix, so that an
error surfaces at declaration or compile time rather than deep inside torch or Pyro.
"""


class UnidgmError(Exception):
    """Root of unidgm's exceptions: catch this to catch any user-facing error."""


class GraphError(UnidgmError, ValueError):
    """An invalid schematic graph, an edge whose network does not fit its node, or a batch
    that does not match the graph's visible nodes."""


class DataError(UnidgmError, ValueError):
    """Missing, truncated or corrupt data files, or an unknown dataset."""


class ConfigError(UnidgmError, ValueError):
    """A bad option or a conflicting combination of options."""


class CheckpointError(UnidgmError):
    """A checkpoint that is missing, corrupted or does not match the model."""


class TrainingError(UnidgmError, RuntimeError):
    """Training cannot go on, e.g. the loss became NaN or infinite."""
