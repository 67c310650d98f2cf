#include "gateway/io_runtime.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <optional>
#include <thread>
#include <vector>

namespace edwc::gateway {

namespace net = boost::asio;

struct IoRuntime::Impl {
  explicit Impl(int n)
      // A hint of 1 lets Asio drop internal locking when one thread runs the context.
      : threads(n < 1 ? 1 : n), ioc(threads), work(net::make_work_guard(ioc)), signals(ioc) {}
  int threads;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  net::signal_set signals;
  std::function<void(int)> on_signal;
  std::function<void()> on_hangup;
  bool waiting = false;
  std::vector<std::thread> pool;

  void WaitSignal() {
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (on_hangup) on_hangup();
      } else if (on_signal) {
        on_signal(sig);
      }
      WaitSignal();  // a second Ctrl-C is delivered too
    });
  }
  void StartWaiting() {
    if (waiting) return;
    waiting = true;
    WaitSignal();
  }
};

IoRuntime::IoRuntime(int threads) : impl_(std::make_unique<Impl>(threads)) {}

IoRuntime::~IoRuntime() {
  Stop();
  Join();
}

net::io_context& IoRuntime::context() { return impl_->ioc; }
int IoRuntime::threads() const { return impl_->threads; }

void IoRuntime::OnSignal(std::function<void(int)> fn) {
  impl_->on_signal = std::move(fn);
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGTERM);
  impl_->StartWaiting();
}

void IoRuntime::OnHangup(std::function<void()> fn) {
  impl_->on_hangup = std::move(fn);
  impl_->signals.add(SIGHUP);
  impl_->StartWaiting();
}

void IoRuntime::Post(std::function<void()> fn) { net::post(impl_->ioc, std::move(fn)); }

void IoRuntime::Every(std::chrono::milliseconds period, std::function<bool()> fn) {
  struct Ticker : std::enable_shared_from_this<Ticker> {
    Ticker(net::io_context& ioc, std::chrono::milliseconds p, std::function<bool()> f)
        : timer(ioc), period(p), fn(std::move(f)) {}
    void Arm() {
      timer.expires_after(period);
      timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec && self->fn()) self->Arm();
      });
    }
    net::steady_timer timer;
    std::chrono::milliseconds period;
    std::function<bool()> fn;
  };
  std::make_shared<Ticker>(impl_->ioc, period, std::move(fn))->Arm();
}

void IoRuntime::Start() {
  for (int i = 0; i < impl_->threads; ++i) {
    impl_->pool.emplace_back([this] { impl_->ioc.run(); });
  }
}

void IoRuntime::Stop() {
  impl_->work.reset();
  impl_->ioc.stop();
}

void IoRuntime::Join() {
  for (auto& t : impl_->pool) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  impl_->pool.clear();
}

}  // namespace edwc::gateway
