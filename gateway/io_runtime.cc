#include "gateway/io_runtime.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
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
  std::vector<std::thread> pool;

  void WaitSignal() {
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (on_signal) on_signal(sig);
      WaitSignal();  // a second Ctrl-C is delivered too
    });
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
  impl_->WaitSignal();
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
