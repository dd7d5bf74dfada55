// An application attached to a Node in-process, below the socket: it
// implements the node's AppStream, applies the stream to a small state (the
// entries' data in order, and the members), answers snapshot requests with
// that state as of the requested index, and rebuilds it from a join. Tests
// compare the states of several such applications.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ipc/app_service.h"
#include "sidecar/node/node.h"

namespace conclave::node::testing {

struct AppState {
  std::vector<std::string> entries;
  std::set<std::uint64_t> members;
  bool operator==(const AppState&) const = default;

  std::string encode() const {
    std::string out;
    auto put = [&](const std::string& s) { out += std::to_string(s.size()) + ":" + s; };
    put(std::to_string(members.size()));
    for (auto m : members) put(std::to_string(m));
    for (const auto& e : entries) put(e);
    return out;
  }
  static AppState decode(const std::string& in) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < in.size();) {
      std::size_t colon = in.find(':', i);
      std::size_t n = std::stoul(in.substr(i, colon - i));
      parts.push_back(in.substr(colon + 1, n));
      i = colon + 1 + n;
    }
    AppState s;
    std::size_t m = std::stoul(parts.at(0));
    for (std::size_t k = 0; k < m; ++k) s.members.insert(std::stoull(parts.at(1 + k)));
    s.entries.assign(parts.begin() + static_cast<long>(1 + m), parts.end());
    return s;
  }
};

class FakeApp final : public ipc::AppStream, public std::enable_shared_from_this<FakeApp> {
 public:
  // An entry as the application received it (its own copy).
  struct Entry {
    std::uint64_t index = 0;
    std::uint64_t term = 0;
    std::string data;
    std::uint64_t session = 0;
    std::uint64_t seq = 0;
  };
  // Every message of the stream, entries included, in order.
  using Event = std::variant<ipc::event::Bootstrap, ipc::event::Join, ipc::event::JoinChunk, ipc::event::Arrive,
                             ipc::event::Depart, ipc::event::Acclimated, ipc::event::SnapshotRequest,
                             ipc::event::Passed, Entry>;

  FakeApp(boost::asio::io_context& io, Node& node, std::string name)
      : io_(io), node_(&node), label_("fake application " + std::move(name)) {}

  // Attaches with the index this application has applied.
  void attach(std::uint64_t applied_index) {
    node_->app_attach(shared_from_this(), ipc::AttachRequest{label_, applied_index}, [this](ipc::AppAnswer a) {
      attach_answer = std::move(a);
    });
  }
  void detach() {
    closed_ = true;
    node_->app_detached(shared_from_this());
  }

  // ipc::AppStream
  void send(const ipc::AppEvent& event) override {
    std::visit([this](const auto& e) { receive(e); }, event);
  }
  // Each entry of a batch as if sent alone; the batch's size is kept, so
  // tests can see how the node batched.
  void send_entries(std::span<const ipc::EntryView> entries) override {
    if (entries.empty()) return;
    batches.push_back(entries.size());
    for (const ipc::EntryView& e : entries) receive(Entry{e.index, e.term, std::string(e.data), e.session, e.seq});
  }
  // A stalled application's connection reports a full queue, as a real one
  // whose application stopped reading does.
  std::size_t queued_bytes() const override { return stalled ? std::size_t{1} << 30 : 0; }
  void close(ipc::AppError code, const std::string& reason) override {
    closed_ = true;
    close_reason = reason;
    close_code = code;
  }
  bool closed() const override { return closed_; }
  const std::string& label() const override { return label_; }

  std::optional<ipc::AppAnswer> attach_answer;
  std::vector<Event> events;
  std::vector<std::size_t> batches;
  AppState state;
  std::uint64_t applied = 0;
  bool bootstrapped = false;
  std::uint64_t joins = 0;
  bool acclimated = false;
  std::uint64_t snapshots_given = 0;
  std::uint64_t snapshots_asked = 0;
  bool stalled = false;
  // How this application answers snapshot requests.
  enum class OnSnapshot { kAnswer, kIgnore, kFail };
  OnSnapshot on_snapshot = OnSnapshot::kAnswer;
  std::string close_reason;
  ipc::AppError close_code = ipc::AppError::kNone;

 private:
  void apply(const ipc::event::Bootstrap&) {
    state = {};
    bootstrapped = true;
  }
  void apply(const ipc::event::Join& j) {
    join_index_ = j.index;
    join_bytes_.clear();
  }
  void apply(const ipc::event::JoinChunk& c) {
    EXPECT_EQ(c.offset, join_bytes_.size());
    join_bytes_ += c.data;
    if (!c.done) return;
    state = AppState::decode(join_bytes_);
    applied = join_index_;
    ++joins;
  }
  template <typename E>
  void receive(const E& e) {
    ASSERT_FALSE(closed_) << "an event after the stream closed";
    events.push_back(e);
    apply(e);
  }
  void apply(const Entry& e) {
    EXPECT_GT(e.index, applied) << "entries out of order";
    state.entries.push_back(e.data);
    applied = e.index;
  }
  void apply(const ipc::event::Arrive& a) {
    state.members.insert(a.member.node);
    applied = a.member.index;
  }
  void apply(const ipc::event::Depart& d) {
    state.members.erase(d.member.node);
    applied = d.member.index;
  }
  void apply(const ipc::event::Acclimated&) { acclimated = true; }
  void apply(const ipc::event::Passed& p) {
    EXPECT_GT(p.index, applied) << "passed goes forward only";
    applied = p.index;
  }
  void apply(const ipc::event::SnapshotRequest& r) {
    EXPECT_GE(r.index, applied) << "asked for a snapshot behind what was applied";
    ++snapshots_asked;
    if (on_snapshot == OnSnapshot::kIgnore) return;
    if (on_snapshot == OnSnapshot::kFail) {
      boost::asio::post(io_, [self = shared_from_this(), index = r.index] {
        if (!self->closed_) self->node_->app_snapshot_failed(self, index, "out of memory", [](ipc::AppAnswer) {});
      });
      return;
    }
    // The state as of the request is the current one: positions between
    // the last message and the request concern only the sidecar.
    std::string bytes = state.encode();
    ++snapshots_given;
    boost::asio::post(io_, [self = shared_from_this(), index = r.index, bytes] {
      if (self->closed_) return;
      // Two chunks, to exercise the stream.
      std::size_t half = bytes.size() / 2;
      self->node_->app_snapshot_chunk(self, index, bytes.substr(0, half), false, std::nullopt);
      self->node_->app_snapshot_chunk(self, index, bytes.substr(half), true, [](ipc::AppAnswer a) {
        EXPECT_EQ(a.error, ipc::AppError::kNone) << a.reason;
      });
    });
  }

  boost::asio::io_context& io_;
  Node* node_;
  std::string label_;
  bool closed_ = false;
  std::uint64_t join_index_ = 0;
  std::string join_bytes_;
};

}  // namespace conclave::node::testing
