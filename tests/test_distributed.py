"""autograd.distributed in one process: the engine hooks DDP relies on, the sampler,
the API's errors, the NCCL transport over a stand-in communicator, and (where
mpiexec is installed) the 2-rank tests and a rank that raises, under real MPI."""
import ctypes
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import autograd as ag
from autograd import distributed as dist
from autograd import nn
from autograd.distributed import nccl as nccl_transport
from autograd.utils.data import DataLoader, DistributedSampler, TensorDataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import mpi4py  # noqa: F401
    HAVE_MPI = True
except ImportError:
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py is not installed "
                                                    "(pip install 'tapegrad[distributed]')")


@pytest.fixture(autouse=True)
def no_group_left_behind():
    yield
    dist.destroy_process_group()


# ---- the engine: a leaf's gradient is final as soon as its last consumer ran --------
def test_post_accumulate_hooks_run_when_the_leaf_is_done_not_at_the_end():
    w1, w2 = ag.randn(3, 3, requires_grad=True), ag.randn(3, 3, requires_grad=True)
    x = ag.randn(2, 3)
    events = []
    w2.register_post_accumulate_grad_hook(lambda p: events.append(("w2", p.grad is not None)))
    w1.register_post_accumulate_grad_hook(lambda p: events.append(("w1", p.grad is not None)))
    h = (x @ w1).tanh()
    h.register_hook(lambda g: events.append(("h",)))    # runs before w1's backward
    (h @ w2).sum().backward()
    assert events == [("w2", True), ("h",), ("w1", True)]


def test_post_accumulate_hooks_see_the_accumulated_sum_once_per_backward():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    (w * w + w * 3).sum().backward()             # three uses, one hook call
    (w * 2).sum().backward()
    np.testing.assert_array_equal(seen[0], [5.0, 7.0])
    np.testing.assert_array_equal(seen[1], [7.0, 9.0])
    ag.grad((w * w).sum(), w)                     # grad() writes no .grad: no call
    assert len(seen) == 2
    (w * w).sum().backward(inputs=[w])
    assert len(seen) == 3
    handle.remove()
    (w * 2).sum().backward()
    assert len(seen) == 3


def test_post_accumulate_hooks_only_on_leaves_that_require_grad():
    a = ag.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="only be registered on leaf"):
        (a * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.ones(2).register_post_accumulate_grad_hook(print)


def test_queue_callback_runs_after_every_grad_is_written():
    from autograd.engine import queue_callback
    with pytest.raises(RuntimeError, match="during a backward pass"):
        queue_callback(print)
    a, b = ag.ones(2, requires_grad=True), ag.ones(2, requires_grad=True)
    grads = []
    a.register_post_accumulate_grad_hook(
        lambda p: queue_callback(lambda: grads.append((a.grad, b.grad))))
    (a * 2 + (b * 3).exp()).sum().backward()
    assert grads and all(g is not None for g in grads[0])


# ---- DistributedSampler ----------------------------------------------------------
def test_sampler_pads_by_wrapping_as_pytorch_does():
    data = list(range(11))
    shares = [list(DistributedSampler(data, num_replicas=2, rank=r, shuffle=False))
              for r in range(2)]
    assert shares == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 0]]
    shares = [list(DistributedSampler(data, num_replicas=3, rank=r, shuffle=False,
                                      drop_last=True)) for r in range(3)]
    assert shares == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    tiny = [list(DistributedSampler([0, 1], num_replicas=5, rank=r, shuffle=False))
            for r in range(5)]
    assert tiny == [[0], [1], [0], [1], [0]]


def test_sampler_shuffles_by_epoch_the_same_way_on_every_rank():
    data = list(range(100))
    samplers = [DistributedSampler(data, num_replicas=4, rank=r, seed=5) for r in range(4)]
    first = [list(s) for s in samplers]
    assert sorted(sum(first, [])) == data and all(len(s) == 25 for s in samplers)
    assert first[0] == list(DistributedSampler(data, num_replicas=4, rank=0, seed=5))
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert sorted(sum(second, [])) == data and second != first
    loader = DataLoader(TensorDataset(ag.arange(100)), batch_size=10, sampler=samplers[2])
    assert sorted(int(v) for (b,) in loader for v in b.numpy()) == sorted(second[2])


def test_sampler_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match=r"rank 2 is not in \[0, 2\)"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


# ---- the API without a group, and in a world of one -------------------------------
def test_collectives_need_a_group_and_backends_are_named():
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(ag.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        nn.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="expected 'mpi'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="mpiexec"):
        dist.init_process_group("mpi", init_method="tcp://10.0.0.1:23456")
    assert not dist.is_initialized()


@needs_mpi
def test_a_world_of_one_runs_every_collective_and_ddp():
    dist.init_process_group("mpi", timeout=10, rank=0, world_size=1)
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "mpi")
    with pytest.raises(RuntimeError, match="already called"):
        dist.init_process_group("mpi")
    t = ag.tensor([1.0, -2.0])
    version = t._counter.value
    dist.all_reduce(t, dist.ReduceOp.AVG)
    assert t.tolist() == [1.0, -2.0] and t._counter.value > version
    outs = [ag.zeros(2)]
    dist.all_gather(outs, t)
    assert outs[0].tolist() == [1.0, -2.0]
    with pytest.raises(TypeError, match="dtype int32 is not supported"):
        dist.all_reduce(ag.tensor(np.ones(2, np.int32)))
    with pytest.raises(TypeError, match="expected a Tensor or an array"):
        dist.all_reduce([1.0, 2.0])
    with pytest.raises(ValueError, match="src=3 is not a rank"):
        dist.broadcast(t, src=3)
    with pytest.raises(ValueError, match="unknown reduce op 'prod'"):
        dist.all_reduce(t, "prod")
    ag.manual_seed(0)
    model = nn.Linear(4, 2)
    ddp = nn.DistributedDataParallel(model)
    ddp(ag.ones(3, 4)).sum().backward()
    np.testing.assert_allclose(model.weight.grad.numpy(), np.full((2, 4), 3.0))
    assert ddp.comm_stats["backward_passes"] == 1


@needs_mpi
def test_init_refuses_a_rank_the_launcher_did_not_give():
    with pytest.raises(ValueError, match=r"world_size=4\), but the launcher gave this process "
                                         "world_size=1"):
        dist.init_process_group("mpi", world_size=4)
    assert not dist.is_initialized()


# ---- NCCL: the real transport code over a stand-in communicator -------------------
class FakeNccl:
    """``cupy.cuda.nccl`` for one rank: records the calls; a world of one reduces
    by copying sendbuf to recvbuf, through the pointers the transport passed."""
    NCCL_FLOAT32, NCCL_FLOAT64, NCCL_INT64, NCCL_UINT8 = 7, 8, 4, 1
    NCCL_SUM, NCCL_MAX, NCCL_MIN = 0, 2, 3
    SIZES = {7: 4, 8: 8, 4: 8, 1: 1}

    def __init__(self):
        self.calls, self.aborted, self.uid = [], False, None
        fake = self

        class NcclCommunicator:
            def __init__(self, size, uid, rank):
                fake.uid = (size, uid, rank)

            def _copy(self, name, send, recv, count, kind, stream, *rest):
                fake.calls.append((name, count, kind) + rest + (stream,))
                ctypes.memmove(recv, send, count * FakeNccl.SIZES[kind])

            def allReduce(self, send, recv, count, kind, op, stream):
                self._copy("allReduce", send, recv, count, kind, stream, op)

            def broadcast(self, send, recv, count, kind, root, stream):
                self._copy("broadcast", send, recv, count, kind, stream, root)

            def allGather(self, send, recv, count, kind, stream):
                self._copy("allGather", send, recv, count, kind, stream)

            def reduceScatter(self, send, recv, count, kind, op, stream):
                self._copy("reduceScatter", send, recv, count, kind, stream, op)

            def check_async_error(self):
                pass

            def abort(self):
                fake.aborted = True

            def destroy(self):
                pass
        self.NcclCommunicator = NcclCommunicator

    @staticmethod
    def get_unique_id():
        return bytes(range(128))


class FakeCuda:
    """The CUDA stream and event the transport uses; ``done`` is what the event reports."""

    def __init__(self, done=True):
        outer = self

        class Event:
            def __init__(self, disable_timing=False):
                self.recorded = None

            def record(self, stream):
                self.recorded = stream

            @property
            def done(self):
                return outer.done
        self.Event, self.done, self.device = Event, done, None

        class Stream:
            ptr = 0x5eed
        self.stream = Stream()
        outer_cuda = self

        class runtime:
            @staticmethod
            def getDeviceCount():
                return 1

        class Device:
            def __init__(self, i):
                self.i = i

            def use(self):
                outer_cuda.device = self.i
        self.runtime, self.Device = runtime, Device

    def get_current_stream(self):
        return self.stream


@pytest.fixture
def fake_nccl(monkeypatch):
    fake, cuda = FakeNccl(), FakeCuda()
    monkeypatch.setattr(nccl_transport, "_cupy_nccl", lambda: (fake, cuda, np))
    for key in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MPI_LOCALRANKID",
                "RANK", "WORLD_SIZE", "AUTOGRAD_NCCL_UNIQUE_ID"):
        monkeypatch.delenv(key, raising=False)
    return fake, cuda


def test_nccl_transport_passes_pointers_counts_types_and_the_current_stream(fake_nccl):
    fake, cuda = fake_nccl
    dist.init_process_group("nccl", timeout=5)
    assert fake.uid == (1, bytes(range(128)), 0) and cuda.device == 0
    t = ag.tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    dist.all_reduce(t, dist.ReduceOp.MAX)
    assert fake.calls[-1] == ("allReduce", 6, FakeNccl.NCCL_FLOAT64, FakeNccl.NCCL_MAX, 0x5eed)
    view = np.arange(12, dtype=np.int64).reshape(3, 4)[:, 1::2]    # strided: out of place
    dist.broadcast(view, src=0)
    assert fake.calls[-1] == ("broadcast", 6, FakeNccl.NCCL_INT64, 0, 0x5eed)
    np.testing.assert_array_equal(view, np.arange(12).reshape(3, 4)[:, 1::2])
    outs = [ag.zeros(3)]
    dist.all_gather(outs, ag.tensor([1.0, 2.0, 3.0]))
    assert outs[0].tolist() == [1.0, 2.0, 3.0]
    assert fake.calls[-1] == ("allGather", 3, FakeNccl.NCCL_FLOAT32, 0x5eed)
    out = ag.zeros(2)
    dist.reduce_scatter(out, [ag.tensor([4.0, 5.0])], dist.ReduceOp.AVG)
    assert out.tolist() == [4.0, 5.0]
    assert fake.calls[-1] == ("reduceScatter", 2, FakeNccl.NCCL_FLOAT32, FakeNccl.NCCL_SUM, 0x5eed)
    objs = [None]
    dist.all_gather_object(objs, {"a": 1})
    assert objs == [{"a": 1}]
    dist.barrier()
    ddp = nn.DistributedDataParallel(nn.Linear(2, 2))
    ddp(ag.ones(1, 2)).sum().backward()
    assert ddp.comm_stats["backward_passes"] == 1


def test_nccl_times_out_aborts_the_communicator_and_refuses_more_work(fake_nccl):
    fake, cuda = fake_nccl
    dist.init_process_group("nccl", timeout=0.2)
    cuda.done = False                               # a peer never joins
    began = time.monotonic()
    with pytest.raises(dist.DistributedError, match=r"all_reduce of 2 float32 elements timed "
                                                    r"out after 0.2 s on rank 0 of 1"):
        dist.all_reduce(ag.ones(2))
    assert time.monotonic() - began < 5 and fake.aborted
    with pytest.raises(dist.DistributedError, match="aborted"):
        dist.all_reduce(ag.ones(2))


def test_nccl_rendezvous_from_the_environment(fake_nccl, monkeypatch):
    fake, cuda = fake_nccl
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(RuntimeError, match="AUTOGRAD_NCCL_UNIQUE_ID"):
        dist.init_process_group("nccl")
    monkeypatch.setenv("AUTOGRAD_NCCL_UNIQUE_ID", "ab" * 128)
    dist.init_process_group("nccl")
    assert fake.uid == (2, b"\xab" * 128, 1) and dist.get_rank() == 1
    with pytest.raises(TypeError, match="backend 'nccl' works on GPU"):
        dist._default().all_reduce(_NotDevice(), "sum")


class _NotDevice:
    dtype, size = np.dtype(np.float32), 1


def test_nccl_without_its_library_or_a_gpu_says_what_to_install():
    """The real bindings: where CuPy or NCCL or a GPU is missing, the error says which."""
    if nccl_transport.available():
        with pytest.raises(RuntimeError, match="needs a GPU"):
            dist.init_process_group("nccl")
    else:
        with pytest.raises(RuntimeError, match="nvidia-nccl|CuPy"):
            dist.init_process_group("nccl")


# ---- real MPI, 2 ranks ------------------------------------------------------------
MPIEXEC = shutil.which("mpiexec")
needs_mpiexec = pytest.mark.skipif(not (HAVE_MPI and MPIEXEC),
                                   reason="mpiexec and mpi4py are not installed "
                                          "(pip install 'tapegrad[distributed]')")


def mpiexec(args, timeout):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    return subprocess.run([MPIEXEC, "-n", "2", sys.executable] + args, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@needs_mpiexec
def test_the_two_rank_suite_passes_under_mpiexec():
    run = mpiexec(["-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "tests/test_distributed_ranks.py"], timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert run.stdout.count(" passed") == 2 and "skipped" not in run.stdout


@needs_mpiexec
def test_a_rank_that_raises_makes_the_other_fail_within_the_timeout(tmp_path):
    script = tmp_path / "dies.py"
    script.write_text(
        "import autograd as ag, autograd.distributed as dist\n"
        "dist.init_process_group('mpi', timeout=3)\n"
        "dist.all_reduce(ag.ones(4))\n"
        "if dist.get_rank() == 1:\n"
        "    raise ValueError('rank 1 fails in its training step')\n"
        "dist.all_reduce(ag.ones(4))\n")
    began = time.monotonic()
    run = mpiexec([str(script)], timeout=120)
    assert time.monotonic() - began < 60
    assert run.returncode != 0
    assert "rank 1 fails in its training step" in run.stderr
    assert ("DistributedError: all_reduce of 4 float32 elements timed out after 3 s on "
            "rank 0 of 2") in run.stderr


@needs_mpiexec
def test_the_scaling_benchmark_runs(tmp_path):
    from benchmarks import distributed as bench
    payload = bench.main(str(tmp_path), quick=True, repeats=3, machine={})
    assert [(r["scaling"], r["ranks"]) for r in payload["summary"]] == \
        [(s, w) for s, w, _ in bench.CONFIGS]
    two = [r for r in payload["summary"] if r["ranks"] == 2]
    assert all(0 <= r["overlapped_bytes_fraction"] <= 1 for r in two)
    assert (tmp_path / "distributed.json").exists() and (tmp_path / "distributed.md").exists()


@needs_mpiexec
def test_the_distributed_digits_example_learns_on_two_ranks(tmp_path):
    pytest.importorskip("sklearn", reason="the example needs scikit-learn ([examples])")
    run = mpiexec(["examples/train_digits_distributed.py", "--epochs", "6", "--out",
                   str(tmp_path)], timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    accuracy = float(run.stdout.split("test accuracy")[1].split()[0])
    assert accuracy > 0.9 and "(2 ranks" in run.stdout
    assert run.stdout.count("epoch  6") == 1                 # only rank 0 prints
    assert (tmp_path / "digits_distributed.pt").exists()


@needs_mpi
def test_ddp_with_backward_inputs_and_after_a_backward_that_raised():
    dist.init_process_group("mpi", timeout=10)
    ag.manual_seed(0)
    model = nn.Linear(3, 1)
    ddp = nn.DistributedDataParallel(model)
    ddp(ag.ones(2, 3)).sum().backward(inputs=[model.weight, model.bias])
    assert ddp.comm_stats["backward_passes"] == 1

    def fail(grad):
        raise ValueError("a hook fails")
    x = ag.ones(2, 3, requires_grad=True)
    h = x * 1.0
    h.register_hook(fail)                         # runs after the Linear's gradients are in
    with pytest.raises(ValueError, match="a hook fails"):
        ddp(h).sum().backward()
    assert ddp._finishing
    model.zero_grad()
    ddp(ag.ones(2, 3)).sum().backward()           # the next step starts clean
    np.testing.assert_allclose(model.weight.grad.numpy(), np.full((1, 3), 2.0))
    assert ddp.comm_stats["backward_passes"] == 2
