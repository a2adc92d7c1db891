"""Benchmarks: ``python -m benchmarks`` (see ``__main__``)."""
import os

# Both engines keep thread pools (OpenMP in ours and PyTorch's, OpenBLAS under
# NumPy) on the same cores. Idle threads that spin-wait steal those cores from
# the other engine's next call: OpenBLAS's default spin made PyTorch's conv
# backward take a flat ~8 ms at every batch size. Idle threads sleep instead;
# this must happen before NumPy (OpenBLAS) or any OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
