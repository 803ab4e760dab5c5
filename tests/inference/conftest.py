"""Shared set-up for the inference tests: a fixed random state and an empty Pyro param store."""

import pyro
import pytest
import torch


@pytest.fixture(autouse=True)
def _fresh_state():
    torch.manual_seed(0)
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


@pytest.fixture
def one_thread():
    """Many tiny ops (an SVI loop) run faster on one thread than on contended cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
