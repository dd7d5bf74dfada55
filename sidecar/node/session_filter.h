// Exactly-once delivery of retried proposals (Raft dissertation §6.3, with
// the client's acknowledged floor instead of a single last sequence number,
// so proposals of one session may commit out of order).
//
// For each client session the filter remembers the sequence numbers it has
// delivered at or above the session's floor. An entry is a duplicate if its
// seq is below the floor or was delivered already. The filter is a pure
// function of the entries it was shown, in index order: every node and every
// application cursor that replays the same log reaches the same decisions,
// and a snapshot carries the filter as of its index so a cursor that starts
// from the snapshot decides as one that replayed from the beginning.
//
// Bounds: at most kSessionsMax sessions (the least recently active is
// forgotten, by index, so the choice is the same everywhere) and at most
// kSeqsMax remembered seqs per session (the lowest go first). A retry older
// than what was forgotten may be delivered twice; schema/app.capnp says so.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace conclave::node {

class SessionFilter {
 public:
  static constexpr std::size_t kSessionsMax = 100000;
  static constexpr std::size_t kSeqsMax = 65536;

  // Shows the filter the entry at `index`; true if it is to be delivered,
  // false if it is a duplicate. Session 0 is always delivered.
  bool admit(std::uint64_t index, std::uint64_t session, std::uint64_t seq, std::uint64_t floor);

  std::size_t sessions() const { return sessions_.size(); }

  // A stable binary form (little-endian, sessions in id order), and back.
  std::string encode() const;
  static std::optional<SessionFilter> decode(std::string_view bytes);

  bool operator==(const SessionFilter& other) const;

 private:
  // Every node runs admit for every entry and every attached application,
  // so it allocates nothing in the common case: a client's seqs commit
  // nearly in order, so `seen` grows at the back and is cut at the front.
  struct Session {
    std::uint64_t floor = 0;
    std::uint64_t last_index = 0;
    std::deque<std::uint64_t> seen;  // ascending, all >= floor
    bool operator==(const Session&) const = default;
  };
  void forget_least_recent();
  // Rebuilds activity_ from sessions_, dropping stale records.
  void compact_activity();

  std::map<std::uint64_t, Session> sessions_;
  // (index, session) for each admit, in index order; a record is stale once
  // its session was active again later (its last_index moved on). The first
  // live record names the least recently active session.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> activity_;
};

}  // namespace conclave::node
