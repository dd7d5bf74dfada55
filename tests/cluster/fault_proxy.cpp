// FaultProxy: the I/O thread, one acceptor per node, and closing the
// connections a new rule blocks. See fault_proxy.h.
#include "tests/cluster/fault_proxy.h"

#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "tests/cluster/proxied_connection.h"

namespace conclave::cluster_test {

namespace asio = boost::asio;
using asio::ip::tcp;

struct FaultProxy::Impl {
  struct Listener {
    Listener(asio::io_context& io, std::uint64_t d, std::uint16_t target_port)
        : acceptor(io), dst(d), target(asio::ip::address_v4::loopback(), target_port) {}
    tcp::acceptor acceptor;
    std::uint64_t dst;
    tcp::endpoint target;
  };

  // Runs `fn` on the I/O thread and waits for it, so that every socket is
  // touched by that thread alone; exceptions reach the caller.
  void run_on_io(std::function<void()> fn) {
    std::packaged_task<void()> task(std::move(fn));
    auto done = task.get_future();
    asio::post(io, [&task] { task(); });
    done.get();
  }

  void accept(Listener& listener) {
    listener.acceptor.async_accept([this, &listener](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !listener.acceptor.is_open()) return;
      if (!ec) {
        auto connection = std::make_shared<ProxiedConnection>(std::move(socket), listener.dst, rules);
        connection->start(listener.target);
        forget_closed();
        connections.push_back(connection);
      }
      accept(listener);
    });
  }

  void forget_closed() {
    std::erase_if(connections, [](const std::weak_ptr<ProxiedConnection>& w) {
      auto c = w.lock();
      return !c || c->closed();
    });
  }

  // Declared first so that it is destroyed last, after the sockets.
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  LinkRules rules;
  std::vector<std::unique_ptr<Listener>> listeners;
  // Not owners: a connection lives as long as its pending operations.
  std::vector<std::weak_ptr<ProxiedConnection>> connections;
  std::thread thread;
};

FaultProxy::FaultProxy() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

FaultProxy::~FaultProxy() {
  impl_->run_on_io([impl = impl_.get()] {
    for (auto& l : impl->listeners) {
      boost::system::error_code ignored;
      l->acceptor.close(ignored);
    }
    for (auto& w : impl->connections) {
      if (auto c = w.lock()) c->close();
    }
  });
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
}

void FaultProxy::add_node(std::uint64_t dst, std::uint16_t listen_port, std::uint16_t target_port) {
  impl_->run_on_io([impl = impl_.get(), dst, listen_port, target_port] {
    auto listener = std::make_unique<Impl::Listener>(impl->io, dst, target_port);
    const tcp::endpoint at(asio::ip::address_v4::loopback(), listen_port);
    boost::system::error_code ec;
    listener->acceptor.open(at.protocol(), ec);
    if (!ec) listener->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) listener->acceptor.bind(at, ec);
    if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("fault proxy for node " + std::to_string(dst) + ": cannot listen on 127.0.0.1:" +
                               std::to_string(listen_port) + ": " + ec.message());
    }
    impl->accept(*listener);
    impl->listeners.push_back(std::move(listener));
  });
}

void FaultProxy::set_rule(std::uint64_t src, std::uint64_t dst, LinkRule rule) {
  impl_->rules.set(src, dst, rule);
  if (!rule.blocked) return;
  // A connection still reading its hello checks the rule once it has it;
  // those that already passed are closed here.
  impl_->run_on_io([impl = impl_.get(), src, dst] {
    for (auto& w : impl->connections) {
      auto c = w.lock();
      if (c && c->src() == src && c->dst() == dst) c->close();
    }
    impl->forget_closed();
  });
}

void FaultProxy::heal() { impl_->rules.clear(); }

}  // namespace conclave::cluster_test
