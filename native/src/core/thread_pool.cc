#include "fuseloss/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace fuseloss {
namespace {

struct Job {
  ChunkFn fn = nullptr;
  void* ctx = nullptr;
  size_t chunks = 0;
  size_t next = 0;      // next chunk to hand out (guarded by the pool mutex)
  size_t finished = 0;  // chunks done (guarded by the pool mutex)
  std::condition_variable done_cv;
};

// Workers take chunks from the oldest job that has some left. Chunks are coarse (tens of KiB of work),
// so one mutex round-trip per chunk costs nothing measurable and keeps the pool simple and obviously safe.
class Pool {
 public:
  Pool() { resize(default_threads()); }
  ~Pool() { stop_all(); }

  void run(size_t chunks, ChunkFn fn, void* ctx) {
    if (chunks == 0) return;
    if (chunks == 1 || workers_target_.load(std::memory_order_relaxed) == 0) {
      for (size_t i = 0; i < chunks; ++i) fn(ctx, i);
      return;
    }
    Job job;
    job.fn = fn, job.ctx = ctx, job.chunks = chunks;
    std::unique_lock<std::mutex> lock(mu_);
    auto it = jobs_.insert(jobs_.end(), &job);
    work_cv_.notify_all();
    // The caller works on its own job until none is left to hand out, then waits for the stragglers.
    while (job.next < job.chunks) {
      size_t i = job.next++;
      lock.unlock();
      fn(ctx, i);
      lock.lock();
      ++job.finished;
    }
    job.done_cv.wait(lock, [&] { return job.finished == job.chunks; });
    jobs_.erase(it);
  }

  void resize(int threads) {
    threads = std::max(1, std::min(threads, 1024));
    std::lock_guard<std::mutex> resize_lock(resize_mu_);
    stop_all();
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
    workers_target_ = threads - 1;
    for (int i = 0; i < threads - 1; ++i) workers_.emplace_back([this] { loop(); });
    threads_ = threads;
  }

  int threads() const { return threads_; }

 private:
  static int default_threads() {
    if (const char* env = std::getenv("FUSELOSS_NUM_THREADS")) {
      int n = std::atoi(env);
      if (n > 0) return n;
    }
    return hardware_threads();
  }

  // Joins every worker after it finishes the chunk it holds; jobs in flight are completed by their callers.
  void stop_all() {
    std::vector<std::thread> old;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      workers_target_ = 0;
      old.swap(workers_);
      work_cv_.notify_all();
    }
    for (auto& t : old) t.join();
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      Job* job = nullptr;
      work_cv_.wait(lock, [&] {
        if (stopping_) return true;
        for (Job* j : jobs_)
          if (j->next < j->chunks) {
            job = j;
            return true;
          }
        return false;
      });
      if (stopping_) return;
      size_t i = job->next++;
      lock.unlock();
      job->fn(job->ctx, i);
      lock.lock();
      if (++job->finished == job->chunks) job->done_cv.notify_all();
    }
  }

  std::mutex mu_;
  std::mutex resize_mu_;
  std::condition_variable work_cv_;
  std::list<Job*> jobs_;
  std::vector<std::thread> workers_;
  std::atomic<int> workers_target_{0};
  std::atomic<int> threads_{1};
  bool stopping_ = false;
};

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process exit (or in a terminating
  // worker_thread's unload) can deadlock; the OS reclaims the threads.
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void parallel_for(size_t chunks, ChunkFn fn, void* ctx) { pool().run(chunks, fn, ctx); }
void set_num_threads(int n) { pool().resize(n); }
int num_threads() { return pool().threads(); }
int hardware_threads() {
  unsigned h = std::thread::hardware_concurrency();
  return h == 0 ? 1 : int(h);
}

}  // namespace fuseloss
