"""Benchmarks: ``python -m benchmarks`` (see ``__main__``). Each engine is timed in
its own process (``benchmarks.worker``), with the environment the command has."""
