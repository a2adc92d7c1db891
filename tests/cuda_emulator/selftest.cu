// Kernels that run the emulated PTX primitives alone, so that
// tests/test_cuda_emulator.py can hold the emulation to a scalar reading of the
// PTX ISA. Built into the emulator only (they name no GPU code).

// A 512-word shared array holds 0, 1, 2, ...; thread t gives the row address
// tile + rows[t] (in words) to ldmatrix .x4 and writes what it got to out[4t..4t+3].
extern "C" __global__ void emu_selftest_ldmatrix(const int* rows, unsigned* out) {
    __shared__ __align__(16) unsigned tile[512];
    for (int i = threadIdx.x; i < 512; i += blockDim.x) tile[i] = i;
    __syncthreads();
    unsigned r[4];
    ldmatrix_x4(r, tile + rows[threadIdx.x]);
    for (int q = 0; q < 4; ++q) out[4 * threadIdx.x + q] = r[q];
}

// Thread t copies its 16 floats src[16t + offset ..] in three groups: words 0-3
// (one 16-byte copy), words 4-7 (four 4-byte copies), words 8-15 (two 16-byte
// copies). After cp.async.wait_group `pending` it writes what its shared words
// hold to seen[16t..16t+15]. `commit_last` 0 leaves the last group uncommitted.
extern "C" __global__ void emu_selftest_cp_async(const float* src, float* seen, int offset,
                                                 int pending, int commit_last) {
    __shared__ __align__(16) float buf[256 * 16];
    float* mine = buf + 16 * threadIdx.x;
    const float* from = src + 16 * threadIdx.x + offset;
    for (int i = 0; i < 16; ++i) mine[i] = -1.f;
    cp_async16(mine, from);
    cp_async_commit();
    for (int u = 4; u < 8; ++u) cp_async4(mine + u, from + u);
    cp_async_commit();
    cp_async16(mine + 8, from + 8);
    cp_async16(mine + 12, from + 12);
    if (commit_last) cp_async_commit();
    if (pending == 0) cp_async_wait<0>();
    else if (pending == 1) cp_async_wait<1>();
    else cp_async_wait<2>();
    for (int i = 0; i < 16; ++i) seen[16 * threadIdx.x + i] = mine[i];
}
