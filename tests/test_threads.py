"""The CPU kernels' threads: one setting (autograd.set_num_threads) for the
extension's pool, numba and NumPy's BLAS; defaults from OMP_NUM_THREADS and the
affinity mask; the pool after fork, under concurrent callers, and with results
that do not depend on scheduling."""
import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import autograd as ag
from autograd import kernels as K

_C = pytest.importorskip("autograd.kernels._C", reason="C++ extension not built")


@pytest.fixture
def restore_threads():
    before = ag.get_num_threads()
    yield
    ag.set_num_threads(before)


def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, **env), timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_set_num_threads_reaches_every_pool(restore_threads):
    ag.set_num_threads(1)
    assert ag.get_num_threads() == 1 == _C.get_num_threads()
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert blas and set(blas) == {1}
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="positive int"):
            ag.set_num_threads(bad)
    assert ag.get_num_threads() == 1


def test_the_default_follows_omp_num_threads_then_the_affinity_mask():
    code = "import autograd as ag; print(ag.get_num_threads())"
    assert _run(code, OMP_NUM_THREADS="3") == "3"
    assert _run(code, OMP_NUM_THREADS="5,2") == "5"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    pinned = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code],
                            capture_output=True, text=True, env=env, timeout=120)
    if pinned.returncode != 0:
        pytest.skip("taskset is not available: " + pinned.stderr.strip()[:200])
    assert pinned.stdout.strip() == "1"


def _conv_weight_grad(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 8, 20, 20)).astype(np.float32)
    gy = rng.standard_normal((16, 12, 20, 20)).astype(np.float32)
    g = K.conv_geometry(x.shape, (12, 8, 3, 3), 1, 1)
    with K.use_cpu_backend("cpp"):
        return K.conv2d_grad_weight(gy, x, g)


def test_summed_products_do_not_depend_on_scheduling(restore_threads):
    """Weight gradients sum over the batch in parts fixed by the thread count:
    repeated runs agree to the bit, other counts to rounding."""
    ag.set_num_threads(2)
    first = _conv_weight_grad()
    for _ in range(5):
        np.testing.assert_array_equal(_conv_weight_grad(), first)
    ag.set_num_threads(1)
    np.testing.assert_allclose(_conv_weight_grad(), first, rtol=1e-4, atol=1e-4)


def test_concurrent_callers_get_their_own_results(restore_threads):
    """Kernels release the GIL: a second Python thread's kernel runs on its own
    thread while the pool is busy, and neither result is touched by the other."""
    ag.set_num_threads(2)
    want = {seed: _conv_weight_grad(seed) for seed in range(4)}
    got, errors = {}, []

    def work(seed):
        try:
            for _ in range(5):
                got.setdefault(seed, []).append(_conv_weight_grad(seed))
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(s,)) for s in want]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for seed, results in got.items():
        for r in results:
            np.testing.assert_allclose(r, want[seed], rtol=1e-4, atol=1e-4)


def _child(queue):
    queue.put(float(_conv_weight_grad().sum()))


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the Linux default")
def test_a_forked_child_starts_its_own_pool(restore_threads):
    """A DataLoader worker or multiprocessing child forks after the pool has
    threads: its kernels must run (on a new pool), not wait for threads that
    did not survive the fork."""
    ag.set_num_threads(2)
    want = float(_conv_weight_grad().sum())          # the parent's pool is started
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == pytest.approx(want, rel=1e-4)


def test_the_optimizer_updates_run_on_the_extension():
    assert K.which("sgd_update") == K.which("adam_update") == K.which("rmsprop_update") == "cpp"
    assert "malloc" in _C.build_info()
