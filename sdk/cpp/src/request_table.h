// The client's requests that have not been answered for good, with the
// retry rules of the protocol: a proposal keeps its session and sequence
// number across every retry (so at most one copy is applied), `unknown` and
// `noLeader` answers and lost connections are retried with backoff until
// the request's deadline. No I/O and no clock of its own: the caller passes
// `now` and sends what ready() returns. Used on the I/O thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
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

  // Fails requests past their deadline. Every request's deadline is its
  // submission time plus the client's one request_timeout, so deadlines
  // follow the order of keys (but for the moments between threads
  // submitting at once): only the oldest requests are looked at.
  void expire(Clock::time_point now);
  void fail_all(const Error& error);

  // When take_ready (if attached) or expire next has something to do.
  std::optional<Clock::time_point> next_due(bool attached) const;

  // The lowest seq whose answer has not been received (SESSIONS: floor).
  std::uint64_t floor() const;
  std::size_t size() const { return live_; }

 private:
  struct Entry {
    Request request;
    bool in_flight = false;
    std::uint64_t wire_id = 0;
    Clock::time_point due;
    std::chrono::milliseconds delay{0};
  };
  using Timed = std::pair<Clock::time_point, std::uint64_t>;  // (when, key)
  Entry* find(std::uint64_t key);
  Frame encode(const Entry& e) const;
  void schedule_retry(std::uint64_t key, Entry& e, Clock::time_point due);
  // Removes a request for good (answered, failed or expired).
  void erase(std::uint64_t key);

  std::uint64_t session_;
  std::chrono::milliseconds delay_min_;
  std::chrono::milliseconds delay_max_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_wire_id_ = 1;
  // Every request costs a few steps here and no search of a tree: with
  // hundreds of proposals in flight a busy client's I/O thread spent a
  // sixth of its time keeping ordered maps (conclave-bench).
  //
  // Keys are handed out in order: request `key` is at entries_[key -
  // first_key_]. An answered one leaves an empty slot until every older one
  // is gone too, so the front is always the oldest request still here.
  std::deque<std::optional<Entry>> entries_;
  std::uint64_t first_key_ = 1;
  std::size_t live_ = 0;
  std::unordered_map<std::uint64_t, std::uint64_t> in_flight_;  // wire id -> key
  // Not yet sent, due at once, in key order. A key whose request is gone is
  // skipped when it comes up.
  std::deque<std::uint64_t> fresh_;
  // Waiting out a backoff before they go again, by when.
  std::set<Timed> retries_;
};

}  // namespace conclave::detail
