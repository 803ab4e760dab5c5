"""Suite-wide settings.

Tests run single-threaded: the models here are tiny, and torch's intra-op threads only add
synchronisation (tens of times slower when the machine is busy).

Tests leave the home directory alone: the digit classifier's cache (``$UNIDGM_CACHE``) and
matplotlib's font cache (``$MPLCONFIGDIR``) go to one temporary folder for the session, set
here before anything imports matplotlib; subprocesses (the CLI tests) inherit it.
"""
import os
import shutil
import tempfile

_SCRATCH = tempfile.mkdtemp(prefix="unidgm-tests-")
os.environ["UNIDGM_CACHE"] = os.path.join(_SCRATCH, "cache")
os.environ["MPLCONFIGDIR"] = os.path.join(_SCRATCH, "matplotlib")
os.environ["XDG_CACHE_HOME"] = os.path.join(_SCRATCH, "xdg-cache")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_unconfigure(config):
    shutil.rmtree(_SCRATCH, ignore_errors=True)
