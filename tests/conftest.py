import os

import numpy as np
import pytest

import autograd as ag


def pytest_collection_modifyitems(config, items):
    status = ag.cuda.is_available()
    if status:
        return
    skip = pytest.mark.skip(reason="needs a usable GPU: " + status.reason)
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory):
    """NVRTC builds go to a cache of the test session's own, not the user's: each
    architecture compiles once per run (seconds), and nothing is left behind."""
    path = str(tmp_path_factory.mktemp("kernel-cache"))
    before = os.environ.get("AUTOGRAD_KERNEL_CACHE")
    os.environ["AUTOGRAD_KERNEL_CACHE"] = path
    yield path
    if before is None:
        del os.environ["AUTOGRAD_KERNEL_CACHE"]
    else:
        os.environ["AUTOGRAD_KERNEL_CACHE"] = before


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
