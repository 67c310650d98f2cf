// IoRuntime: the one io_context of a gateway and the threads that run it, plus signal
// handling. Listeners and clients are attached to it. Asio stays behind this header.
//
// Thread-safety: Start/Stop/Wait from one controlling thread; OnSignal and OnHangup before
// Start.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

namespace boost::asio {
class io_context;
}

namespace edwc::gateway {

class IoRuntime {
 public:
  explicit IoRuntime(int threads);
  ~IoRuntime();
  IoRuntime(const IoRuntime&) = delete;
  IoRuntime& operator=(const IoRuntime&) = delete;

  boost::asio::io_context& context();
  int threads() const;

  // Calls fn(signal_number) on an I/O thread when SIGINT or SIGTERM arrives.
  void OnSignal(std::function<void(int)> fn);

  // Calls fn() on an I/O thread when SIGHUP arrives (the process is no longer ended by
  // it). fn must be quick: it should hand the work to a thread of its own.
  void OnHangup(std::function<void()> fn);

  // Runs fn on an I/O thread, soon.
  void Post(std::function<void()> fn);

  // Calls fn on an I/O thread every `period` (first after one period) until it returns
  // false or the runtime stops. Calls do not overlap. For protocol ticks (gossip rounds,
  // refreshes); a slow fn delays its next call rather than piling calls up.
  void Every(std::chrono::milliseconds period, std::function<bool()> fn);

  // Calls service->Tick() every `period` while the service is alive and not stopped
  // (`service->stopped`, read under `service->mu`): the services' timers.
  template <typename Service>
  void TickWhileRunning(std::chrono::milliseconds period, const std::shared_ptr<Service>& service) {
    Every(period, [weak = std::weak_ptr<Service>(service)] {
      auto self = weak.lock();
      if (!self) return false;
      self->Tick();
      std::lock_guard lock(self->mu);
      return !self->stopped;
    });
  }

  void Start();  // starts the threads
  void Stop();   // stops the io_context (pending work is abandoned)
  void Join();   // waits for the threads to return

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
