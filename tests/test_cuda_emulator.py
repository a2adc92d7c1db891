"""The CUDA emulator's PTX primitives against a scalar reading of the PTX ISA.

The tensor-core kernels are only as well tested as the emulator's ldmatrix and
cp.async are faithful, so each is run alone (tests/cuda_emulator/selftest.cu)
and compared with the layout and completion rules the PTX ISA states:

- ldmatrix.sync.aligned.m8n8.x4.shared.b16: lanes 8q..8q+7 give the addresses
  of the eight 16-byte rows of matrix q; lane l receives, in register q, the
  32-bit word l % 4 of row l / 4 of matrix q. Rows must be 16-byte aligned.
- cp.async / commit_group / wait_group N: wait_group N returns once at most the
  N most recent committed groups are pending; a copy's destination is undefined
  until then (the emulator shows that as NaN); addresses are aligned to the size.
"""
import numpy as np
import pytest

import cuda_emulator

pytestmark = pytest.mark.skipif(cuda_emulator.compiler() is None, reason="no C++ compiler")


@pytest.fixture(scope="module")
def emu():
    return cuda_emulator.EmulatorRuntime()


def _ldmatrix_model(tile, rows):
    """What each of the 256 threads gets, by the PTX ISA's description."""
    out = np.empty((256, 4), np.uint32)
    for t in range(256):
        warp, lane = divmod(t, 32)
        for q in range(4):
            row = rows[32 * warp + 8 * q + lane // 4]
            out[t, q] = tile[row + lane % 4]
    return out


def test_ldmatrix_gives_each_lane_the_words_the_ptx_isa_names(emu):
    rng = np.random.default_rng(0)
    rows = (rng.integers(0, 128, 256) * 4).astype(np.int32)   # any 16-byte aligned rows
    out = np.zeros(1024, np.uint32)
    emu.launch("emu_selftest_ldmatrix", (1,), (rows, out))
    np.testing.assert_array_equal(out.reshape(256, 4),
                                  _ldmatrix_model(np.arange(512, dtype=np.uint32), rows))


def test_ldmatrix_faults_on_a_misaligned_row(emu):
    rows = np.zeros(256, np.int32)
    rows[37] = 6                        # 24 bytes: not a 16-byte boundary
    with pytest.raises(RuntimeError, match="ldmatrix.*16-byte"):
        emu.launch("emu_selftest_ldmatrix", (1,), (rows, np.zeros(1024, np.uint32)))


GROUPS = (range(0, 4), range(4, 8), range(8, 16))     # the selftest's three commit groups


@pytest.mark.parametrize("pending", [0, 1, 2])
def test_wait_group_lands_all_but_the_newest_groups(emu, pending):
    src = np.arange(256 * 16 + 4, dtype=np.float32)
    seen = np.zeros(256 * 16, np.float32)
    emu.launch("emu_selftest_cp_async", (1,), (src, seen, np.int32(0), np.int32(pending),
                                                np.int32(1)))
    seen = seen.reshape(256, 16)
    mine = src[:256 * 16].reshape(256, 16)
    for g, words in enumerate(GROUPS):
        cols = list(words)
        if g < len(GROUPS) - pending:            # landed: the data, exactly
            np.testing.assert_array_equal(seen[:, cols], mine[:, cols])
        else:                                    # in flight: undefined, shown as NaN
            assert np.isnan(seen[:, cols]).all(), (g, pending)


def test_cp_async_faults_on_a_misaligned_address(emu):
    src = np.arange(256 * 16 + 4, dtype=np.float32)
    with pytest.raises(RuntimeError, match="cp.async.*aligned"):
        emu.launch("emu_selftest_cp_async", (1,), (src, np.zeros(256 * 16, np.float32),
                                                    np.int32(1), np.int32(0), np.int32(1)))


def test_copies_never_committed_are_an_error(emu):
    """wait_group covers committed groups only: copies still uncommitted at exit
    were never waited for, which the emulator reports."""
    src = np.arange(256 * 16 + 4, dtype=np.float32)
    with pytest.raises(RuntimeError, match="uncommitted"):
        emu.launch("emu_selftest_cp_async", (1,), (src, np.zeros(256 * 16, np.float32),
                                                    np.int32(0), np.int32(0), np.int32(0)))
