// The thread pool of threads.h.
//
// One job runs at a time. The caller publishes it (a new generation), takes
// part as slot 0, then closes it: workers that have not joined by then stay
// out, so the caller waits only for chunks already being worked on, never for
// a worker the OS has not woken yet. Workers are started on first use and
// live as long as the process; a forked child starts a fresh pool.
#include "threads.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() std::this_thread::yield()
#endif

namespace csrc {
namespace {

// How long an idle worker (or a caller waiting for the last chunks) polls
// before it sleeps: long enough to bridge the Python between two kernels of
// one step, short enough to cost a busy machine nothing that matters.
constexpr auto kSpin = std::chrono::microseconds(50);

using Body = std::function<void(int64_t, int64_t, int)>;
using Clock = std::chrono::steady_clock;
constexpr Clock::duration kFirstBackoff = std::chrono::milliseconds(50);
constexpr Clock::duration kLastBackoff = std::chrono::milliseconds(400);
thread_local bool inside_pool = false;    // set in workers and in a caller mid-job

template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() > until) return ready();
  }
}

class Pool {
 public:
  void run(int64_t items, int64_t chunk, int threads, const Body &body) {
    std::unique_lock<std::mutex> one_job(run_mutex_, std::try_to_lock);
    if (!one_job.owns_lock()) {                 // another Python thread's job is running
      body(0, items, 0);
      return;
    }
    start_workers(threads - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      items_ = items;
      chunk_ = chunk;
      helpers_ = threads - 1;
      error_ = nullptr;
      next_.store(0, std::memory_order_relaxed);
      open_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    const auto start = Clock::now();
    inside_pool = true;
    work(0);
    inside_pool = false;
    const auto own_done = Clock::now();
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      open_ = false;                            // latecomers stay out
      if (active_ > 0) {
        lock.unlock();
        spin_until([&] { return active_now_.load(std::memory_order_acquire) == 0; });
        lock.lock();
        done_.wait(lock, [&] { return active_ == 0; });
      }
      error = error_;
      body_ = nullptr;
    }
    judge(start, own_done, Clock::now());
    if (error) std::rethrow_exception(error);
  }

  PoolStats &stats() { return stats_; }

  // Whether jobs should go parallel now (see judge).
  bool parallel_now() const {
    return Clock::now().time_since_epoch().count() >= solo_until_.load(std::memory_order_relaxed);
  }

 private:
  void start_workers(int n) {
    while (started_ < n) {
      const int index = ++started_;
      std::thread([this, index] { loop(index); }).detach();
    }
  }

  // A worker the OS has descheduled while it holds a chunk makes the caller
  // wait for a whole time slice (milliseconds): with a busy neighbour process
  // on a 2-core machine that made two threads 2x slower than one. A job
  // straggles when the caller waited longer than it worked (and over 200 us).
  // Two straggles among the last eight parallel jobs send the next jobs to the
  // caller alone for a while (50 ms, doubling to 400 ms while it keeps
  // happening); then parallel jobs probe again. One straggle alone (a
  // hypervisor's hiccup on a quiet machine) changes nothing.
  void judge(Clock::time_point start, Clock::time_point own_done, Clock::time_point end) {
    const auto worked = own_done - start, waited = end - own_done;
    const bool straggled = waited >= std::chrono::microseconds(200) && waited >= worked;
    recent_ = (recent_ << 1 | unsigned(straggled)) & 0xFFu;
    stats_.parallel_jobs.fetch_add(1, std::memory_order_relaxed);
    if (!straggled) {
      if (!(recent_ & 0xFEu)) backoff_ = kFirstBackoff;   // calm again
      return;
    }
    stats_.straggles.fetch_add(1, std::memory_order_relaxed);
    if (__builtin_popcount(recent_) < 2) return;
    solo_until_.store((end + backoff_).time_since_epoch().count(), std::memory_order_relaxed);
    stats_.backoffs.fetch_add(1, std::memory_order_relaxed);
    backoff_ = std::min(backoff_ * 2, kLastBackoff);
    recent_ = 0;
  }

  // Chunks until none are left (or a body threw).
  void work(int slot) {
    for (;;) {
      const int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
      if (begin >= items_) return;
      try {
        (*body_)(begin, std::min(items_, begin + chunk_), slot);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(items_, std::memory_order_relaxed);
        return;
      }
    }
  }

  void loop(int index) {
    inside_pool = true;
    uint64_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
      }
      std::unique_lock<std::mutex> lock(mutex_);
      seen = generation_.load(std::memory_order_relaxed);
      if (!open_ || index > helpers_) continue;
      ++active_;
      active_now_.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      work(index);
      lock.lock();
      active_now_.fetch_sub(1, std::memory_order_release);
      if (--active_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mutex_;                        // one job at a time
  std::mutex mutex_;                            // guards the job's fields and active_
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_now_{0};              // active_, readable without the mutex
  const Body *body_ = nullptr;
  int64_t items_ = 0, chunk_ = 1;
  int helpers_ = 0, active_ = 0, started_ = 0;
  bool open_ = false;
  std::exception_ptr error_;
  std::atomic<Clock::rep> solo_until_{0};       // no parallel jobs before this time
  Clock::duration backoff_ = kFirstBackoff;     // guarded by run_mutex_
  unsigned recent_ = 0;                         // straggles among the last 8 jobs, a bit each
  PoolStats stats_;
};

std::atomic<Pool *> the_pool{nullptr};
std::atomic<int> requested{0};                 // 0: the default
std::once_flag fork_handler;

Pool &pool() {
  std::call_once(fork_handler, [] {
    // The child of a fork has none of the workers: forget the pool (its
    // mutexes may be held by threads that no longer exist) and start anew.
    pthread_atfork(nullptr, nullptr, [] { the_pool.store(nullptr); });
  });
  Pool *p = the_pool.load(std::memory_order_acquire);
  if (!p) {
    Pool *fresh = new Pool();                   // never freed: workers may outlive exit
    if (the_pool.compare_exchange_strong(p, fresh)) p = fresh;
    else delete fresh;
  }
  return *p;
}

int default_threads() {
  if (const char *env = std::getenv("OMP_NUM_THREADS")) {
    const int n = std::atoi(env);               // "4" or the first of "4,2"
    if (n >= 1) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

PoolStats &pool_stats() { return pool().stats(); }

int num_threads() {
  const int n = requested.load(std::memory_order_relaxed);
  if (n > 0) return n;
  static const int fallback = default_threads();
  return fallback;
}

void set_num_threads(int n) { requested.store(std::max(1, n), std::memory_order_relaxed); }

int threads_for(double work, double per_thread) {
  const double n = work / per_thread;
  return n < 2 ? 1 : int(std::min<double>(n, num_threads()));
}

void parallel_for(int64_t items, int64_t chunk, int threads, const Body &body) {
  if (items <= 0) return;
  chunk = std::max<int64_t>(chunk, 1);
  const int64_t chunks = (items + chunk - 1) / chunk;
  threads = int(std::min<int64_t>(std::min(threads, num_threads()), chunks));
  if (threads <= 1 || inside_pool) {
    body(0, items, 0);
    return;
  }
  if (!pool().parallel_now()) {
    pool().stats().solo_jobs.fetch_add(1, std::memory_order_relaxed);
    body(0, items, 0);
    return;
  }
  pool().run(items, chunk, threads, body);
}

}  // namespace csrc
