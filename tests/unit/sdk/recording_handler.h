// A Handler for tests: records every callback as a line of text, so a test
// compares the whole sequence at once, and lets a test wait (bounded) until
// a number of callbacks has run on the SDK's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <conclave/handler.h>

namespace conclave::test {

class RecordingHandler : public Handler {
 public:
  void bootstrap() override {
    set_state({});
    record("bootstrap");
  }
  void join(Index index, SnapshotReader& snapshot) override {
    std::string chunks;
    std::string all;
    while (auto chunk = snapshot.next()) {
      chunks += "[" + *chunk + "]";
      all += *chunk;
    }
    set_state(all);
    record("join " + std::to_string(index) + " " + std::to_string(snapshot.size()) + " " + chunks);
  }
  void entry(Index index, Term term, std::string_view data) override {
    set_state(state() + std::string(data));
    record("entry " + std::to_string(index) + " " + std::to_string(term) + " " + std::string(data));
  }
  void arrive(Index index, NodeId node, std::string_view address) override {
    record("arrive " + std::to_string(index) + " " + std::to_string(node) + " " + std::string(address));
  }
  void depart(Index index, NodeId node, std::string_view address) override {
    record("depart " + std::to_string(index) + " " + std::to_string(node) + " " + std::string(address));
  }
  void acclimated(Index index) override { record("acclimated " + std::to_string(index)); }
  void snapshot(Index index, SnapshotWriter& out) override {
    // Written in odd pieces, so the SDK's chunking is what shapes the chunks.
    std::string now = state();
    for (std::size_t i = 0; i < now.size(); i += 3) out.write(std::string_view(now).substr(i, 3));
    record("snapshot " + std::to_string(index));
  }

  // The concatenation of every entry since the last bootstrap/join.
  std::string state() const {
    std::lock_guard lock(mutex_);
    return state_;
  }
  std::vector<std::string> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  // Waits until at least `n` callbacks have run; returns what they were.
  std::vector<std::string> wait_calls(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return calls_.size() >= n; });
    return calls_;
  }

 private:
  void set_state(std::string state) {
    std::lock_guard lock(mutex_);
    state_ = std::move(state);
  }
  void record(std::string call) {
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(std::move(call));
    }
    cv_.notify_all();
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
  std::string state_;
};

}  // namespace conclave::test
