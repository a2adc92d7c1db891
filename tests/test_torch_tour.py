"""Everyday PyTorch idioms, run with ``import autograd as torch``: each answer's
values, shapes and dtypes match torch's, as recorded in tests/data/torch_tour.npz
(``python -m tests.torch_tour`` re-records them with torch installed)."""
import json

import numpy as np
import pytest

import autograd
from tests.torch_tour import IDIOMS, PATH, dtype_name, flatten

with np.load(PATH, allow_pickle=False) as _archive:
    RECORDED = {k: _archive[k] for k in _archive.files}
META = json.loads(RECORDED.pop("__meta__").tobytes().decode())


def test_the_tour_is_long_and_fully_recorded():
    assert len(IDIOMS) >= 150
    assert sorted(META["dtypes"]) == sorted(IDIOMS), "re-record: python -m tests.torch_tour"


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idiom_matches_torch(name):
    autograd.manual_seed(0)
    got = flatten(IDIOMS[name](autograd))
    dtypes = META["dtypes"][name]
    assert len(got) == len(dtypes), "%s: %d outputs, torch %d" % (name, len(got), len(dtypes))
    for i, (a, dtype) in enumerate(zip(got, dtypes)):
        want = RECORDED["%s/%d" % (name, i)]
        assert dtype_name(a) == dtype, "%s[%d]: dtype %s, torch %s" % (name, i, a.dtype, dtype)
        assert a.shape == want.shape, "%s[%d]: shape %s, torch %s" % (name, i, a.shape, want.shape)
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, want, rtol=2e-5, atol=1e-6, err_msg=name,
                                       equal_nan=True)
        else:
            np.testing.assert_array_equal(a, want, err_msg=name)


def test_live_torch_agrees_with_the_recording():
    """With torch installed, its answers today are those recorded (the recording is not stale)."""
    torch = pytest.importorskip("torch")
    for name, fn in IDIOMS.items():
        torch.manual_seed(0)
        for i, a in enumerate(flatten(fn(torch))):
            np.testing.assert_allclose(a, RECORDED["%s/%d" % (name, i)], rtol=1e-6, atol=1e-7,
                                       err_msg=name)
