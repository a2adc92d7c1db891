#pragma once
// The extension's one thread pool. Every parallel loop in csrc/ runs on it.
//
// Why not OpenMP: the process that imports us often has another libgomp in it
// already (PyTorch ships its own; numba loads the system's). Ours then binds to
// whichever loaded first, with that one's spin-waiting settings. OpenMP's
// static schedule also makes every loop wait for its slowest thread, and under
// a busy neighbour process that thread may be one the OS has not scheduled.
// This pool hands out chunks of work one at a time, so a thread that gets no
// CPU delays at most the one chunk it holds. Idle workers spin for a few tens
// of microseconds (back-to-back kernels of one training step), then sleep on a
// condition variable, so they never compete with BLAS or other processes.
#include <atomic>
#include <cstdint>
#include <functional>

namespace csrc {

// Threads a parallel loop may use: set_num_threads, else OMP_NUM_THREADS, else
// the CPUs this process may run on (its affinity mask).
int num_threads();
void set_num_threads(int n);

// Threads worth waking for `work` units (multiply-adds, elements moved): one
// below `per_thread` units each, else at most num_threads().
int threads_for(double work, double per_thread);

// body(begin, end, slot) over [0, items) in chunks of at most `chunk` items,
// on up to `threads` threads (the caller among them). `slot` < threads names
// the participant, for per-thread scratch. Chunks go to whoever is free next.
// A nested or concurrent call runs serially on its caller. The first exception
// a body throws stops the loop and is rethrown here.
void parallel_for(int64_t items, int64_t chunk, int threads,
                  const std::function<void(int64_t, int64_t, int)> &body);

// What the pool did, since the process (or its fork) started: jobs run in
// parallel, of those the ones whose caller waited on a descheduled worker, the
// times that sent jobs to the caller alone, and the jobs run so.
struct PoolStats {
  std::atomic<int64_t> parallel_jobs{0}, straggles{0}, backoffs{0}, solo_jobs{0};
};
PoolStats &pool_stats();

// The common case: one item per plane or product, chunked for about 4 chunks
// per thread.
inline void parallel_for(int64_t items, int threads,
                         const std::function<void(int64_t, int64_t, int)> &body) {
  const int64_t per = items / (int64_t(threads) * 4);
  parallel_for(items, per > 1 ? per : 1, threads, body);
}

}  // namespace csrc
