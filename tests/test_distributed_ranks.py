"""Collectives and DistributedDataParallel across 2 real MPI ranks.

Run as ``mpiexec -n 2 python -m pytest -q tests/test_distributed_ranks.py`` (CI
does, and tests/test_distributed.py launches it where mpiexec is installed).
Both ranks run the same tests in the same order; a collective that one rank
skips makes the other fail after the group's timeout instead of hanging.
"""
import contextlib

import numpy as np
import pytest

import autograd as ag
from autograd import distributed as dist
from autograd import nn

mpi4py = pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install "
                                             "'tapegrad[distributed]')")
from mpi4py import MPI  # noqa: E402

WORLD = MPI.COMM_WORLD.Get_size()
RANK = MPI.COMM_WORLD.Get_rank()
pytestmark = pytest.mark.skipif(WORLD < 2, reason="needs 2 MPI ranks: run under "
                                                  "`mpiexec -n 2 python -m pytest`")


@pytest.fixture(scope="module", autouse=True)
def group():
    dist.init_process_group("mpi", timeout=60)
    yield
    dist.destroy_process_group()


def per_rank(seed, shape, dtype):
    """Every rank's input, known to every rank (so NumPy can give the answer)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "i":
        return [rng.integers(-50, 50, shape).astype(dtype) for _ in range(WORLD)]
    return [rng.standard_normal(shape).astype(dtype) for _ in range(WORLD)]


DTYPES = [np.float32, np.float64, np.int64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "max", "min", "avg"])
def test_all_reduce_matches_numpy(dtype, op):
    if op == "avg" and np.dtype(dtype).kind == "i":
        with pytest.raises(TypeError, match="AVG needs a floating tensor"):
            dist.all_reduce(ag.tensor(np.ones(3, dtype)), dist.ReduceOp.AVG)
        return
    inputs = per_rank(1, (5, 7), dtype)
    t = ag.tensor(inputs[RANK].copy())
    dist.all_reduce(t, getattr(dist.ReduceOp, op.upper()))
    expected = {"sum": np.sum, "max": np.max, "min": np.min, "avg": np.mean}[op](
        np.stack(inputs), axis=0)
    np.testing.assert_allclose(t.numpy(), expected.astype(dtype), rtol=1e-6)
    assert t.dtype == ag.tensor(inputs[0]).dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_all_gather_reduce_scatter_match_numpy(dtype):
    inputs = per_rank(2, (3, 4), dtype)
    t = ag.tensor(inputs[RANK].copy())
    dist.broadcast(t, src=1)
    np.testing.assert_array_equal(t.numpy(), inputs[1])

    outs = [ag.tensor(np.full((3, 4), -1, dtype)) for _ in range(WORLD)]
    dist.all_gather(outs, ag.tensor(inputs[RANK]))
    for r in range(WORLD):
        np.testing.assert_array_equal(outs[r].numpy(), inputs[r])

    chunks = per_rank(3, (WORLD, 2, 3), dtype)      # chunks[rank][r] goes to rank r
    out = ag.tensor(np.full((2, 3), -1, dtype))
    dist.reduce_scatter(out, [ag.tensor(c) for c in chunks[RANK]])
    np.testing.assert_allclose(out.numpy(), np.sum([c[RANK] for c in chunks], axis=0), rtol=1e-6)


def test_non_contiguous_and_async_collectives():
    base = np.arange(24, dtype=np.float64).reshape(4, 6) * (RANK + 1)
    view = base[:, ::2]                     # strided: staged through a contiguous copy
    work = dist.all_reduce(view, async_op=True)
    assert work.wait() is True and work.is_completed()
    expected = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2] * sum(range(1, WORLD + 1))
    np.testing.assert_array_equal(base[:, ::2], expected)
    np.testing.assert_array_equal(base[:, 1::2], np.arange(24.).reshape(4, 6)[:, 1::2] * (RANK + 1))


def test_all_gather_object_and_barrier():
    objects = [None] * WORLD
    dist.all_gather_object(objects, {"rank": RANK, "payload": "x" * (100 * RANK)})
    assert [o["rank"] for o in objects] == list(range(WORLD))
    assert [len(o["payload"]) for o in objects] == [100 * r for r in range(WORLD)]
    dist.barrier()
    assert dist.get_rank() == RANK and dist.get_world_size() == WORLD
    assert dist.get_backend() == "mpi" and dist.is_initialized()


def test_a_collective_that_no_other_rank_joins_times_out_with_a_clear_error():
    from autograd.distributed.mpi import MpiGroup
    side = MpiGroup(timeout=1.0)             # its own communicator: the default one stays usable
    if RANK == 0:
        with pytest.raises(dist.DistributedError, match=r"all_reduce of 3 float32 elements "
                                                        r"timed out after 1 s on rank 0 of 2"):
            side.all_reduce(np.ones(3, np.float32), "sum").wait()
        with pytest.raises(dist.DistributedError, match="failed earlier"):
            side.all_reduce(np.ones(3, np.float32), "sum")
    dist.barrier()


# ---- DistributedDataParallel ---------------------------------------------------
def make_model(seed):
    ag.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 16), nn.Tanh(), nn.Linear(16, 3))


def batches(steps, batch=8):
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((batch, 1, 8, 8)).astype(np.float32),
             rng.integers(0, 3, batch)) for _ in range(steps)]


def train(model, data, part=None, accumulate=1):
    opt = ag.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for i in range(0, len(data), accumulate):
        opt.zero_grad()
        for j, (x, y) in enumerate(data[i:i + accumulate]):
            if part is not None:
                x, y = x[part], y[part]
            sync = j == accumulate - 1 or not isinstance(model, nn.DistributedDataParallel)
            ctx = model.no_sync() if not sync else contextlib.nullcontext()
            with ctx:
                loss_fn(model(ag.tensor(x)), ag.tensor(y)).backward()
        opt.step()
    return model


def shard():
    return slice(RANK * 8 // WORLD, (RANK + 1) * 8 // WORLD)


@pytest.mark.parametrize("bucket_cap_mb", [25, 0.001])
def test_ddp_on_half_batches_equals_one_process_on_the_whole_batch(bucket_cap_mb):
    data = batches(5)
    reference = train(make_model(0), data)
    model = make_model(RANK)              # different on each rank: DDP must take rank 0's
    ddp = nn.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    if bucket_cap_mb < 1:
        # last layer first, cut at the 1 kB cap: (fc2, fc1.bias), (fc1.weight), (conv)
        assert [len(b.params) for b in ddp._buckets] == [3, 1, 2]
    train(ddp, data, shard())
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), atol=1e-6, err_msg=name)
    assert ddp.comm_stats["backward_passes"] == 5
    assert set(ddp.state_dict()) == {"module." + k for k in model.state_dict()}


def test_no_sync_accumulates_locally_then_averages_the_sum():
    data = batches(4)
    reference = make_model(0)
    opt = ag.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    for i in (0, 2):                     # full micro-batches, accumulated in pairs
        opt.zero_grad()
        for x, y in data[i:i + 2]:
            nn.CrossEntropyLoss()(reference(ag.tensor(x)), ag.tensor(y)).backward()
        opt.step()
    model = make_model(0)
    ddp = nn.DistributedDataParallel(model)
    train(ddp, data, shard(), accumulate=2)
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), atol=1e-6)
    assert ddp.comm_stats["backward_passes"] == 2     # no communication inside no_sync


def test_a_parameter_unused_on_one_rank_gets_the_average_and_nothing_hangs():
    ag.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    holder = nn.ModuleList([a, b])
    ddp = nn.DistributedDataParallel(holder, bucket_cap_mb=0.0001)
    x = ag.ones(4, 3)
    out = a(x).sum() if RANK == 0 else (a(x).sum() + b(x).sum())
    out.backward()
    np.testing.assert_allclose(b.weight.grad.numpy(), np.full((2, 3), 4.0 / WORLD * (WORLD - 1)))
    np.testing.assert_allclose(a.weight.grad.numpy(), np.full((2, 3), 4.0))
    assert ddp.comm_stats["backward_passes"] == 1


def test_ddp_broadcasts_buffers_and_refuses_models_that_differ():
    bn = nn.BatchNorm1d(3)
    bn.running_mean.array[...] = RANK + 1
    ddp = nn.DistributedDataParallel(bn)
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.ones(3))
    ddp(ag.ones(4, 3) * (RANK + 1))       # each rank's own batch statistics ...
    ddp(ag.ones(4, 3))                    # ... and rank 0's again at the next forward
    other = ddp.module.running_mean.numpy().copy()
    gathered = [None] * WORLD
    dist.all_gather_object(gathered, other)
    np.testing.assert_array_equal(gathered[0], gathered[1])
    with pytest.raises(ValueError, match=r"ranks disagree on the model: rank 0 has parameter "
                                         r"'weight' \(2, 3\) float32, rank 1 has parameter "
                                         r"'weight' \(3, 3\) float32"):
        nn.DistributedDataParallel(nn.Linear(3, 2 + RANK))


def test_distributed_sampler_shards_cover_the_dataset_once():
    data = list(range(11))
    sampler = ag.utils.data.DistributedSampler(data, shuffle=True, seed=3)
    sampler.set_epoch(2)
    mine = list(sampler)
    everyone = [None] * WORLD
    dist.all_gather_object(everyone, mine)
    assert all(len(s) == 6 for s in everyone)
    assert sorted(sum(everyone, []))[:11] == list(range(11)) or set(sum(everyone, [])) == set(data)


# ---- Keras fit() -----------------------------------------------------------------
def keras_model():
    from autograd import keras
    ag.manual_seed(0)
    m = keras.Sequential([keras.layers.Input((6,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_keras_fit_runs_data_parallel_and_equals_one_process(tmp_path, capsys):
    from autograd import keras
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((70, 6)).astype(np.float32), rng.integers(0, 3, 70)
    single = keras_model()
    group, dist._group = dist._group, None     # this rank alone, as one process trains
    try:
        expected = single.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    finally:
        dist._group = group
    model = keras_model()
    ckpt = tmp_path / ("rank%d-{epoch}.keras" % RANK)
    capsys.readouterr()
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=2,
                        callbacks=[keras.callbacks.ModelCheckpoint(str(ckpt), monitor="loss")])
    printed = capsys.readouterr().out
    for p, q in zip(model.parameters(), single.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), atol=1e-6)
    for key in ("loss", "accuracy"):      # the metrics are over the whole data set
        np.testing.assert_allclose(history.history[key], expected[key], rtol=1e-6)
    written = sorted(f.name for f in tmp_path.iterdir())
    assert written == (["rank0-1.keras", "rank0-2.keras", "rank0-3.keras"] if RANK == 0 else [])
    assert ("Epoch 3/3" in printed) == (RANK == 0)
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)    # hooks do not pile up
    assert all(len(p._post_accumulate_hooks) == 0 for p in model.parameters())


def test_nccl_rendezvous_hands_rank_0s_unique_id_to_every_rank():
    """Under mpiexec the NCCL transport takes rank 0's id through MPI (a stand-in
    communicator below it: no GPU here)."""
    from test_distributed import FakeCuda, FakeNccl
    from autograd.distributed.nccl import NcclGroup
    fake = FakeNccl()
    fake.get_unique_id = lambda: bytes([RANK + 1]) * 128     # each rank would make its own
    group = NcclGroup.create(30.0, nccl=fake, cuda=FakeCuda(), xp=np)
    assert (group.rank, group.size) == (RANK, WORLD)
    assert fake.uid == (WORLD, bytes([1]) * 128, RANK)
