"""Checkpoints (safe, atomic, checked) and data tools."""
import os

import numpy as np
import pytest

import autograd as ag
from autograd import io, nn, optim
from autograd.nn.functional import one_hot
from autograd.utils.data import (DataLoader, RandomFlip, RandomShift, TensorDataset,
                                 train_test_split)


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_checkpoint_round_trip_restores_predictions_and_optimizer(tmp_path):
    ag.manual_seed(0)
    m = _model()
    opt = optim.Adam(m.parameters(), lr=0.01)
    x = ag.randn(8, 3)
    for _ in range(3):
        m(x).sum().backward()
        opt.step()
        opt.zero_grad()
    path = str(tmp_path / "ck.npz")
    io.save_checkpoint(path, m, opt, epoch=3)
    m2, _ = _model(), None
    opt2 = optim.Adam(m2.parameters(), lr=0.5)
    extra = io.load_checkpoint(path, m2, opt2)
    assert extra == {"epoch": 3}
    m.eval(), m2.eval()
    np.testing.assert_array_equal(m(x).numpy(), m2(x).numpy())
    assert opt2.param_groups[0]["lr"] == 0.01
    # the next steps agree too: the moments came back
    for model, o in ((m, opt), (m2, opt2)):
        model.train()
        model(x).sum().backward()
        o.step()
    np.testing.assert_allclose(m.state_dict()["0.weight"], m2.state_dict()["0.weight"])


def test_bad_checkpoint_leaves_the_model_unchanged(tmp_path):
    path = str(tmp_path / "ck.npz")
    io.save_checkpoint(path, nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2)))
    m = _model()
    before = m.state_dict()
    with pytest.raises(ValueError) as err:
        io.load_checkpoint(path, m)
    assert "0.weight" in str(err.value) and "(5, 3)" in str(err.value)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_loading_never_unpickles(tmp_path):
    path = str(tmp_path / "evil.npz")
    np.savez(path, weights=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        io.load(path)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / "ck.npz")
    io.save({"a": np.ones(3)}, path)

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError):
        io.save({"a": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(io.load(path)["a"], np.ones(3))
    assert os.listdir(tmp_path) == ["ck.npz"]            # no temporary left behind


def test_nested_trees_with_int_keys_and_values(tmp_path):
    tree = {"state": {0: {"step": 3, "m": np.arange(3.0)}}, "groups": [{"lr": 0.1}], "x": "y"}
    path = str(tmp_path / "t.npz")
    io.save(tree, path)
    back = io.load(path)
    assert back["state"][0]["step"] == 3 and back["groups"] == [{"lr": 0.1}] and back["x"] == "y"
    np.testing.assert_array_equal(back["state"][0]["m"], np.arange(3.0))


def test_one_hot_and_split():
    assert one_hot(np.array([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        one_hot(np.array([0, 2]), 2)
    x, y = np.arange(100), np.arange(100) % 4
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, seed=0, stratify=y)
    assert len(xte) == 20 and len(xtr) == 80 and set(xtr) | set(xte) == set(x)
    assert np.bincount(yte).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(xtr % 4, ytr)
    with pytest.raises(ValueError, match="lengths"):
        train_test_split(x, y[:5])


def test_dataloader():
    x, y = np.arange(10), np.arange(10) * 2
    data = TensorDataset(x, y)
    batches = list(DataLoader(data, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert isinstance(batches[0][0], ag.Tensor)
    assert len(DataLoader(TensorDataset(x), batch_size=4, drop_last=True)) == 2
    a = [b[0].tolist() for b in DataLoader(TensorDataset(x), batch_size=3, shuffle=True,
                                           generator=ag.Generator().manual_seed(1))]
    b = [b[0].tolist() for b in DataLoader(TensorDataset(x), batch_size=3, shuffle=True,
                                           generator=ag.Generator().manual_seed(1))]
    assert a == b and sorted(sum(a, [])) == list(range(10))
    for xb, yb in DataLoader(data, batch_size=3, shuffle=True):
        np.testing.assert_array_equal(yb.numpy(), xb.numpy() * 2)


def test_augmentation():
    img = np.arange(2 * 3 * 4).reshape(2, 3, 4, 1).astype(np.float32)
    flipped = RandomFlip(p=1.0)(img)
    np.testing.assert_array_equal(flipped, img[:, :, ::-1])
    nchw = img.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(RandomFlip(p=1.0, layout="NCHW")(nchw), nchw[..., ::-1])
    shifted = RandomShift(1, seed=0)(img)
    assert shifted.shape == img.shape
    assert set(np.unique(shifted)) <= set(np.unique(img)) | {0.0}


def test_saved_files_get_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "w.pt"
        ag.save({"a": np.ones(2)}, path)
        assert (path.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(old)
