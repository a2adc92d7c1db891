"""Benchmarks: this engine against NumPy and PyTorch in the same run."""
