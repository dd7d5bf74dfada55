// The thread that makes a Ready durable while the event loop goes on
// reading the network, stepping the core and accumulating the next batch
// (LogCabin's append-now, wait-later). node.cpp's drain writes a Ready's
// entries on the loop, hands the fsync here, and sends, applies and
// advances only when the completion comes back to the loop, so nothing
// that acknowledges the Ready leaves before it is durable (raft.h).
//
// The node has two: one for Readies, which has one job at a time (the core
// gives no new Ready before advance()), and one for storing application
// snapshots, whose fsync covers the whole state and could take seconds.
// Jobs run in the order given.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "sidecar/storage/result.h"

namespace conclave::node {

class SyncThread {
 public:
  using Job = std::function<storage::Status()>;
  using Done = std::function<void(storage::Status)>;

  explicit SyncThread(boost::asio::io_context& io) : io_(io), thread_([this] { loop(); }) {}
  // Runs the jobs already given; their completions are still posted (the
  // handlers must find out that their owner is gone).
  ~SyncThread() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  // Runs job() on the thread after those given before, then posts
  // done(status) to the loop.
  void run(Job job, Done done) {
    {
      std::lock_guard lock(mu_);
      pending_.push_back(Pending{std::move(job), std::move(done), boost::asio::make_work_guard(io_)});
    }
    cv_.notify_one();
  }

 private:
  struct Pending {
    Job job;
    Done done;
    // The loop keeps running while a sync it waits for is out.
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  };

  void loop() {
    for (;;) {
      std::optional<Pending> p;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;
        p.emplace(std::move(pending_.front()));
        pending_.pop_front();
      }
      storage::Status status = p->job();
      boost::asio::post(io_, [done = std::move(p->done), status = std::move(status)]() { done(status); });
      p->work.reset();
    }
  }

  boost::asio::io_context& io_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace conclave::node
