// WorkerPool: a few threads for blocking work that must stay off the I/O threads
// (fork/exec of a job, a slurmrestd call, dataset file I/O). Tasks run in the order
// posted when the pool has one thread; with more, concurrently.
//
// A task runs under the request id that was current where it was posted
// (core/request_id.h), so what it logs names the request that asked for it.
//
// Thread-safety: Post from any thread. Close (and the destructor) runs the tasks already
// posted, then joins; a Post after Close returns false and drops the task.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/request_id.h"

namespace edwc::gateway {

class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Close(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (and the task dropped) once the pool is closing.
  bool Post(std::function<void()> task) {
    if (std::string_view id = core::CurrentRequestId(); !id.empty()) {
      task = [id = std::string(id), inner = std::move(task)] {
        core::ScopedRequestId scope(id);
        inner();
      };
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }

  // Runs what was posted, then joins the threads. Idempotent.
  // REQUIRES: not called from one of the pool's own tasks.
  void Close() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    std::lock_guard join(join_mu_);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::mutex join_mu_;
  std::vector<std::thread> threads_;
};

}  // namespace edwc::gateway
