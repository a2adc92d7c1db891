// Runs the kernels of kernels/cuda on the CPU (see emu.h). Built by
// tests/cuda_emulator/__init__.py, which generates registry.inc: one
// ENTRY(name) per extern "C" kernel in the preprocessed sources.
#include "emu.h"
#include "translation_unit.cu"

#include <thread>
#include <utility>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::barrier<>* emu_block_barrier = nullptr;
EmuWarpTile emu_warps[32];
EmuRows emu_rows[32];
std::atomic<const char*> emu_fault_message{nullptr};
thread_local std::vector<EmuCopy> emu_copies;
thread_local std::vector<std::size_t> emu_groups;

template <class... A> static constexpr int arity(void (*)(A...)) { return sizeof...(A); }
template <class... A> static std::vector<int> sizes(void (*)(A...)) { return {int(sizeof(A))...}; }

template <class... A, std::size_t... I>
static void call(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(args[I])...);
}
template <auto F> static void invoke(void** args) {
    call(F, args, std::make_index_sequence<arity(F)>());
}
struct Entry { const char* name; void (*run)(void**); std::vector<int> sizes; };
#define ENTRY(NAME) Entry{#NAME, &invoke<&NAME>, sizes(&NAME)},
static const Entry entries[] = {
#include "registry.inc"
};

extern "C" {

// What the last launch faulted on, or null.
const char* emu_fault() { return emu_fault_message.load(); }

// Returns 0, -1 for an unknown kernel, 1 + i when argument i has the wrong
// size, or -2 when the kernel faulted (emu_fault says on what).
int emu_launch(const char* name, int gx, int gy, int gz, int bx, void** args, const int* arg_sizes,
               int nargs) {
    const Entry* e = nullptr;
    for (const Entry& c : entries)
        if (!std::strcmp(c.name, name)) e = &c;
    if (!e) return -1;
    if ((int)e->sizes.size() != nargs) return 1 + nargs;
    for (int i = 0; i < nargs; ++i)
        if (e->sizes[i] != arg_sizes[i]) return 1 + i;
    emu_fault_message = nullptr;
    gridDim = dim3{unsigned(gx), unsigned(gy), unsigned(gz)};
    blockDim = dim3{unsigned(bx), 1, 1};
    std::barrier<> bar(bx);
    emu_block_barrier = &bar;
    std::vector<std::thread> threads;
    for (int t = 0; t < bx; ++t)
        threads.emplace_back([=, &bar] {
            threadIdx = dim3{unsigned(t), 0, 0};
            for (int z = 0; z < gz; ++z)
                for (int y = 0; y < gy; ++y)
                    for (int x = 0; x < gx; ++x) {
                        blockIdx = dim3{unsigned(x), unsigned(y), unsigned(z)};
                        e->run(args);
                        if (!emu_copies.empty() || !emu_groups.empty()) {
                            cp_async_wait<0>();
                            if (!emu_copies.empty()) emu_fault("cp.async: copies left uncommitted at exit");
                            emu_copies.clear(); emu_groups.clear();
                        }
                        bar.arrive_and_wait();     // the next block reuses __shared__
                    }
        });
    for (auto& th : threads) th.join();
    return emu_fault_message.load() ? -2 : 0;
}

}
