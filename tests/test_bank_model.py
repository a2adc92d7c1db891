"""The shared-memory bank model (.ci/bank_model.py) on patterns whose answer is
known, and the kernels' claims it backs: fragment reads without conflicts."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".ci"))
import bank_model  # noqa: E402


@pytest.mark.parametrize("lanes,want", [
    ([(4 * t, 4) for t in range(32)], 1),              # 32 consecutive words
    ([(128 * t, 4) for t in range(32)], 32),           # every lane on bank 0
    ([(0, 4)] * 32, 1),                                # one word, broadcast
    ([(8 * t, 4) for t in range(32)], 2),              # stride 2 words: two per bank
    ([(16 * t, 16) for t in range(32)], 4),            # 128-bit, consecutive: 4 phases
    ([(256 * t, 16) for t in range(32)], 32),          # 128-bit, all on banks 0-3
    ([(8 * t, 8) for t in range(32)], 2),              # 64-bit, consecutive: 2 phases
])
def test_the_model_on_known_patterns(lanes, want):
    assert bank_model.wavefronts(lanes) == want


def test_fragment_reads_are_conflict_free_on_every_tile():
    """gemm_core.cuh splits each thread's B columns in two halves so that a warp's
    reads are contiguous; the tensor-core tile's reads are swizzled."""
    for tile, accesses in bank_model.verdicts().items():
        for access, (got, fewest) in accesses.items():
            if "fragment read" in access:
                assert got == fewest, (tile, access, got, fewest)


def test_every_tensor_core_access_is_conflict_free():
    """tensor_core.cuh's swizzled tiles: copies (16-byte and element-wise) and
    fragment reads (ldmatrix and 32-bit), both orientations, A and B."""
    accesses = bank_model.verdicts()["tf32/bf16 128x128"]
    assert len(accesses) == 8
    for access, (got, fewest) in accesses.items():
        assert got == fewest, (access, got, fewest)


def test_without_the_swizzle_the_model_sees_conflicts(monkeypatch):
    """The XOR in tile_word is what removes them: plain layouts conflict."""
    monkeypatch.setattr(bank_model, "tile_word",
                        lambda k_major, mn, k: mn * 16 + k if k_major else k * 128 + mn)
    accesses = bank_model.verdicts()["tf32/bf16 128x128"]
    assert accesses["A fragment read (k-major)"] == [32, 8]      # 4-way: 8 rows of 64 bytes
    assert accesses["A fragment read (mn-major)"] == [32, 8]     # 4-way: k rows 128 words apart
