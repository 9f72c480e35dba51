// A persistent pool of worker threads for parallelFor: kernels call it many times per training
// step, and starting threads on each call would cost more than small kernels take.
#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "kernels.h"

namespace netlens::cpu {
namespace {

thread_local bool insideParallelRegion = false;

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : threads_(std::max(1, threads)) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }
  int threads() const { return threads_; }

  /** Runs task(chunk) for chunk in [0, chunks), chunks ≤ threads(); the caller runs chunk 0. */
  void run(int chunks, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> runLock(runMutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      chunks_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    insideParallelRegion = true;
    task(0);
    insideParallelRegion = false;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void workerLoop(int index) {
    insideParallelRegion = true;
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* task = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= chunks_) continue;
        task = task_;
      }
      (*task)(index);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --pending_;
      }
      done_.notify_one();
    }
  }

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex runMutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* task_ = nullptr;
  int chunks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

int defaultThreads() {
  if (const char* env = std::getenv("NETLENS_THREADS")) {
    const int requested = std::atoi(env);
    if (requested > 0) return requested;
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware == 0 ? 1 : static_cast<int>(hardware);
}

std::mutex poolMutex;
std::unique_ptr<ThreadPool>& poolSlot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}

ThreadPool& pool() {
  std::lock_guard<std::mutex> lock(poolMutex);
  std::unique_ptr<ThreadPool>& slot = poolSlot();
  if (!slot) slot = std::make_unique<ThreadPool>(defaultThreads());
  return *slot;
}

}  // namespace

int threadCount() { return pool().threads(); }

void setThreadCount(int threads) {
  std::lock_guard<std::mutex> lock(poolMutex);
  poolSlot() = std::make_unique<ThreadPool>(threads);
}

void parallelFor(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t, int)>& body) {
  if (count <= 0) return;
  ThreadPool& threads = pool();
  const int64_t maxChunks = std::max<int64_t>(1, count / std::max<int64_t>(1, grain));
  const int chunks = static_cast<int>(std::min<int64_t>(threads.threads(), maxChunks));
  // Nested calls (a kernel inside a parallel kernel) run on the calling thread.
  if (chunks <= 1 || insideParallelRegion) {
    body(0, count, 0);
    return;
  }
  const int64_t per = count / chunks;
  const int64_t extra = count % chunks;
  threads.run(chunks, [&](int chunk) {
    const int64_t begin = chunk * per + std::min<int64_t>(chunk, extra);
    const int64_t end = begin + per + (chunk < extra ? 1 : 0);
    body(begin, end, chunk);
  });
}

}  // namespace netlens::cpu
