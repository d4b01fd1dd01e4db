import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

# The fused backends that must run on CPU tensors in every test run. "cpp" is built by
# `pip install -e .`; a missing extension makes these tests fail, never skip.
CPU_FUSED = ["cpp"]


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
