"""The PyTorch front end's contracts beyond the idiom tour: module paths, two
spellings of one reduction, save/load without pickle, the data pipeline."""
import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import autograd as torch
from autograd.utils.data import (ConcatDataset, DataLoader, Dataset, IterableDataset, Subset,
                                 TensorDataset, random_split)


def test_import_autograd_gives_the_torch_namespaces():
    code = ("import autograd as torch\n"
            "print(torch.nn.Linear, torch.nn.functional.relu, torch.nn.init.zeros_, "
            "torch.nn.utils.clip_grad_norm_, torch.nn.parallel.DataParallel, torch.optim.SGD, "
            "torch.optim.lr_scheduler.StepLR, torch.utils.data.DataLoader, torch.autograd.grad, "
            "torch.cuda.is_available, torch.cuda.manual_seed_all)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_dtypes_are_objects_equal_to_numpys():
    x = torch.zeros(2)
    assert x.dtype is torch.float32 and x.dtype == np.float32 and x.dtype == "float32"
    assert repr(torch.int64) == "autograd.int64" and torch.long is torch.int64
    assert torch.float64.is_floating_point and not torch.int32.is_floating_point
    assert {torch.float32: 1}[x.dtype] == 1
    assert repr(x.shape) == "autograd.Size([2])" and x.shape == (2,)


def test_dim_and_axis_are_one_reduction():
    x = torch.tensor([[1.0, 5.0], [3.0, 2.0]])
    assert torch.equal(x.sum(dim=1, keepdim=True), x.sum(axis=1, keepdims=True))
    with pytest.raises(TypeError, match="both dim= and axis="):
        x.sum(dim=0, axis=0)
    values, indices = x.max(dim=1)                  # PyTorch: (values, indices)
    assert values.tolist() == [5.0, 3.0] and indices.tolist() == [1, 0]
    assert x.max(axis=1).tolist() == [5.0, 3.0]     # NumPy's spelling: the values
    with pytest.raises(TypeError, match="one int"):
        x.max(dim=(0, 1))


def test_bad_gather_and_scatter_name_what_is_wrong():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="out of range for dim 1 of size 3"):
        x.gather(1, torch.tensor([[3], [0]]))
    with pytest.raises(TypeError, match="integer tensor"):
        x.gather(1, torch.tensor([[0.0]]))
    with pytest.raises(TypeError, match="bool tensor"):
        x.masked_fill(torch.tensor([[1, 0, 1], [0, 0, 0]]), 1.0)


def test_save_and_load_nested_containers(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 2)).sum().backward()
    opt.step()
    obj = {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3,
           "pair": (torch.arange(3), None), "names": ["a", "b"], 7: 1.5,
           "dtype": torch.float64, "device": torch.device("cpu"),
           "weight": torch.nn.Parameter(torch.ones(2))}
    path = tmp_path / "ck.pt"
    torch.save(obj, path)
    back = torch.load(path)
    assert isinstance(back["model"], OrderedDict) and list(back["model"]) == list(obj["model"])
    for k, v in obj["model"].items():
        assert torch.equal(back["model"][k], v) and back["model"][k].dtype == v.dtype
    assert back["epoch"] == 3 and back[7] == 1.5 and back["names"] == ["a", "b"]
    assert isinstance(back["pair"], tuple) and back["pair"][1] is None
    assert back["dtype"] is torch.float64 and back["device"] == "cpu"
    assert isinstance(back["weight"], torch.nn.Parameter) and back["weight"].requires_grad
    fresh = torch.optim.Adam(model.parameters())
    fresh.load_state_dict(back["optim"])
    assert fresh.state_dict()["state"][0]["step"] == 1
    buffer = io.BytesIO()                           # file objects too
    torch.save(torch.tensor([1, 2]), buffer)
    buffer.seek(0)
    assert torch.load(buffer).tolist() == [1, 2]


def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path):
    path = tmp_path / "x.pt"
    with pytest.raises(TypeError, match="cannot store a function"):
        torch.save({"f": test_save_refuses_what_it_cannot_store_and_writes_nothing}, path)
    assert os.listdir(tmp_path) == []


def test_pickles_and_torch_files_are_refused_with_a_way_out(tmp_path):
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"w": [1, 2]}))
    with pytest.raises(ValueError, match="pickle.*could run code"):
        torch.load(legacy)
    zipped = tmp_path / "new.pt"                    # torch.save's zip layout
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({}))
        z.writestr("archive/version", "3")
    with pytest.raises(ValueError, match="written by torch.save.*torch.load"):
        torch.load(zipped)
    npz = tmp_path / "plain.npz"
    np.savez(npz, a=np.ones(2))
    with pytest.raises(ValueError, match="not one written by autograd.save"):
        torch.load(npz)


def test_torch_files_are_refused_for_real():
    real = pytest.importorskip("torch")
    buffer = io.BytesIO()
    real.save({"w": real.ones(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="torch.save"):
        torch.load(buffer)


class _Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "y": i * i}


class _Stream(IterableDataset):
    def __iter__(self):
        return iter(range(7))


def test_dataloader_collates_dicts_and_takes_a_collate_fn():
    batch = next(iter(DataLoader(_Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["y"].tolist() == [0, 1, 4]
    assert batch["y"].dtype == torch.int64
    sums = [b for b in DataLoader(_Squares(), batch_size=2,
                                  collate_fn=lambda s: sum(d["y"] for d in s))]
    assert sums == [1, 13, 16]
    one = list(DataLoader(TensorDataset(torch.arange(3)), batch_size=None))
    assert [t[0].item() for t in one] == [0, 1, 2]


def test_dataloader_over_a_stream_and_with_workers():
    assert [b.tolist() for b in DataLoader(_Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(DataLoader(_Squares(), batch_size=2, num_workers=2, drop_last=True))) == 2
    with pytest.raises(ValueError, match="IterableDataset takes no shuffle"):
        DataLoader(_Stream(), shuffle=True)
    with pytest.raises(TypeError, match="wrap arrays in TensorDataset"):
        DataLoader(np.zeros(3))


def test_shuffling_follows_the_generator():
    data = TensorDataset(torch.arange(20))

    def order(seed):
        g = torch.Generator().manual_seed(seed)
        return [b[0].tolist() for b in DataLoader(data, batch_size=5, shuffle=True, generator=g)]
    assert order(1) == order(1) and order(1) != order(2)
    assert sorted(sum(order(3), [])) == list(range(20))


def test_random_split_subset_and_concat():
    data = TensorDataset(torch.arange(10))
    a, b = random_split(data, [7, 3], generator=torch.Generator().manual_seed(0))
    seen = sorted(int(a[i][0]) for i in range(7)) + sorted(int(b[i][0]) for i in range(3))
    assert sorted(seen) == list(range(10))
    assert [len(s) for s in random_split(data, [0.5, 0.3, 0.2])] == [5, 3, 2]
    with pytest.raises(ValueError, match="do not add up"):
        random_split(data, [4, 4])
    sub = Subset(data, [9, 0])
    assert [int(x[0]) for x in DataLoader(sub, batch_size=None)] == [9, 0]
    both = ConcatDataset([sub, data])
    assert len(both) == 12 and int(both[2][0]) == 0 and int(both[-1][0]) == 9


def test_lr_schedulers_record_initial_lr_and_chain():
    w = torch.tensor([1.0], requires_grad=True)
    opt = torch.optim.SGD([w], lr=1.0)
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["initial_lr"] == 1.0
    warm.step()
    warm.step()
    assert opt.param_groups[0]["lr"] == 1.0
    state = warm.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 2
