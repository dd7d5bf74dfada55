// The client's requests that have not been answered for good, with the
// retry rules of the protocol: a proposal keeps its session and sequence
// number across every retry (so at most one copy is applied), `unknown` and
// `noLeader` answers and lost connections are retried with backoff until
// the request's deadline. No I/O and no clock of its own: the caller passes
// `now` and sends what ready() returns. Used on the I/O thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "wire.h"

namespace conclave::detail {

using Clock = std::chrono::steady_clock;

struct Request {
  enum class Kind { propose, barrier, status };
  Kind kind = Kind::propose;
  std::string data;       // propose
  std::uint64_t seq = 0;  // propose: its session's sequence number
  Clock::time_point deadline;
  std::function<void(const Answer&)> done;
  std::function<void(const Error&)> fail;
};

class RequestTable {
 public:
  RequestTable(std::uint64_t session, std::chrono::milliseconds delay_min, std::chrono::milliseconds delay_max);

  std::uint64_t session() const { return session_; }
  // Assigns a proposal its seq. Returns the request's key.
  std::uint64_t add(Request request, Clock::time_point now);

  // A wire id for a request outside the table (attach, a snapshot's last chunk).
  std::uint64_t reserve_id() { return next_wire_id_++; }

  // Requests due to be sent now, as (key, frame); each gets a fresh wire id
  // and counts as in flight until answered or the connection is lost.
  std::vector<Frame> take_ready(Clock::time_point now);

  // An answer for one of ours: completes it, or schedules its retry.
  // False if the id is not one in flight (a late answer of a lost connection).
  bool answer(const Answer& a, Clock::time_point now);

  // The connection is gone: whatever was in flight is sent again later.
  void connection_lost(Clock::time_point now);

  // Fails requests past their deadline.
  void expire(Clock::time_point now);
  void fail_all(const Error& error);

  // When take_ready (if attached) or expire next has something to do.
  std::optional<Clock::time_point> next_due(bool attached) const;

  // The lowest seq whose answer has not been received (SESSIONS: floor).
  std::uint64_t floor() const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Request request;
    bool in_flight = false;
    std::uint64_t wire_id = 0;
    Clock::time_point due;
    std::chrono::milliseconds delay{0};
  };
  using Timed = std::pair<Clock::time_point, std::uint64_t>;  // (when, key)
  Frame encode(const Entry& e) const;
  void schedule(std::uint64_t key, Entry& e, Clock::time_point due);
  void erase(std::map<std::uint64_t, Entry>::iterator it);

  std::uint64_t session_;
  std::chrono::milliseconds delay_min_;
  std::chrono::milliseconds delay_max_;
  std::uint64_t next_key_ = 1;
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_wire_id_ = 1;
  std::map<std::uint64_t, Entry> entries_;          // key -> entry
  std::map<std::uint64_t, std::uint64_t> in_flight_;  // wire id -> key
  // Indexes, so that each call costs what it takes or answers rather than
  // a walk over every request: with hundreds of proposals in flight the
  // I/O thread otherwise spent most of its time walking (conclave-bench).
  std::set<Timed> due_;        // the entries not in flight, by when to send
  std::set<Timed> deadlines_;  // every entry, by deadline
};

}  // namespace conclave::detail
