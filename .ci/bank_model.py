"""A model of shared-memory bank conflicts for the GEMM tiles of kernels/cuda/gemm_core.cuh.

Shared memory has 32 banks of 4 bytes. A warp's access is served in wavefronts:
32-bit accesses in one phase of 32 lanes, 64-bit in two of 16, 128-bit in four
of 8; within a phase each bank serves one distinct 4-byte word per wavefront
(lanes reading the same word share it). An access is conflict-free when it
takes the fewest wavefronts its width allows.

The index formulas below restate the kernels' (warp 0, thread index = lane);
an access that is several instructions sums their wavefronts;
`verdicts()` gives, per tile and access, (wavefronts, fewest possible).
Pure Python: .ci/compile_cuda.py records it before anything is installed.
"""


def wavefronts(accesses):
    """``accesses``: per lane (byte address, width in bytes), all of one width."""
    width = accesses[0][1]
    per_phase = 32 * 4 // max(width, 4) if width > 4 else 32
    total = 0
    for start in range(0, len(accesses), per_phase):
        banks = {}
        for addr, w in accesses[start:start + per_phase]:
            for word in range(addr // 4, (addr + w + 3) // 4):
                banks.setdefault(word % 32, set()).add(word)
        total += max(len(words) for words in banks.values())
    return total


def fewest(width, lanes=32):
    return max(1, lanes * width // 128)


def _simt(size, bm, bn, bk, tm, tn, a_k_runs, b_k_runs):
    """The CUDA-core tile's accesses (Simt<T, BM, BN, BK, TM, TN>)."""
    vec, h = 16 // size, tn // 2
    row_a, row_b = (bm + vec) * size, (bn + vec) * size       # PAD = VEC elements
    lanes = range(32)
    tx = [t % (bn // tn) for t in lanes]
    ty = [t // (bn // tn) for t in lanes]
    out = {}
    wa = min(tm * size, 16)
    out["A fragment read"] = [(ty[t] * tm * size, wa) for t in lanes]
    wb = min(h * size, 16)
    out["B fragment read"] = [(tx[t] * h * size, wb) for t in lanes]

    def store(k_runs, bmn, row):
        if k_runs:       # run origin (mn, k) = (c / (BK/VEC), (c % (BK/VEC)) * VEC): scalar stores
            return [((t % (bk // vec)) * vec * row + (t // (bk // vec)) * size, size) for t in lanes]
        return [((t // (bmn // vec)) * row + (t % (bmn // vec)) * vec * size, 16) for t in lanes]
    out["A store"] = store(a_k_runs, bm, row_a)
    out["B store"] = store(b_k_runs, bn, row_b)
    return out


def tile_word(k_major, mn, k):
    """tensor_core.cuh's tile_word: word (mn, k) of a swizzled 128 x 16 tile."""
    if k_major:
        return mn * 16 + ((((k >> 2) ^ (mn >> 1)) & 3) << 2) + (k & 3)
    return k * 128 + (mn ^ ((k & 3) << 3))


def _fragment_rows(k_major, b_pair, ks):
    """fragments<K_MAJOR, B_PAIR>: ldmatrix row addresses (16 bytes per lane) or
    the four 32-bit reads, each a list of 32 lanes."""
    def block(q):
        return (8 * (q >> 1), 4 * (q & 1)) if b_pair else (8 * (q & 1), 4 * (q >> 1))
    if k_major:
        return [[(tile_word(True, block(l >> 3)[0] + (l & 7), ks + block(l >> 3)[1]) * 4, 16)
                 for l in range(32)]]
    return [[(tile_word(False, block(q)[0] + (l >> 2), ks + block(q)[1] + (l & 3)) * 4, 4)
             for l in range(32)] for q in range(4)]


def _mma():
    """The tensor-core tile's accesses (Mma<BF16>, tensor_core.cuh), warp 0, for
    both tile orientations: the cp.async copies (16 bytes per run; a run that is
    not whole is four 4-byte copies, each lane starting at a different word) and
    the fragment reads at both k steps, for A and for B."""
    out = {}
    for k_major, name in ((True, "k-major"), (False, "mn-major")):
        def origin(c):           # run_origin for a 128 x 16 tile of 4-word runs
            return (c // 4, (c % 4) * 4) if k_major else ((c % 32) * 4, c // 32)
        runs = [origin(t) for t in range(32)]
        out["copy 16 B (%s)" % name] = [[(tile_word(k_major, m, k) * 4, 16) for m, k in runs]]
        out["copy 4 B (%s)" % name] = [          # lane t writes word (step + t / 8) % 4
            [(tile_word(k_major, m, k) * 4 + 4 * ((step + t // 8) % 4), 4)
             for t, (m, k) in enumerate(runs)] for step in range(4)]
        for b_pair, operand in ((False, "A"), (True, "B")):
            out["%s fragment read (%s)" % (operand, name)] = [
                lanes for ks in (0, 8) for lanes in _fragment_rows(k_major, b_pair, ks)]
    return out


TILES = {"f32 128x128": (4, 128, 128, 8, 8, 8), "f32 64x64": (4, 64, 64, 16, 4, 4),
         "f32 32x128": (4, 32, 128, 16, 4, 4), "f64 64x64": (8, 64, 64, 8, 4, 4),
         "f64 32x32": (8, 32, 32, 16, 2, 2)}


def verdicts():
    """{tile: {access: [wavefronts, fewest]}} for every tile and operand layout."""
    out = {}
    for name, cfg in TILES.items():
        for a_k, b_k, layout in ((True, False, "nn"), (False, True, "tt")):
            for access, lanes in _simt(*cfg, a_k, b_k).items():
                key = access if "fragment" in access else "%s (%s)" % (access, layout)
                out.setdefault(name, {})[key] = [wavefronts(lanes), fewest(lanes[0][1])]
    out["tf32/bf16 128x128"] = {
        access: [sum(wavefronts(l) for l in group), sum(fewest(l[0][1]) for l in group)]
        for access, group in _mma().items()}
    return out


if __name__ == "__main__":
    for tile, accesses in verdicts().items():
        for access, (got, best) in accesses.items():
            print("%-18s %-20s %2d wavefronts (fewest %d)%s"
                  % (tile, access, got, best, "" if got == best else "  CONFLICTS"))
