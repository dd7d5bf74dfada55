// Retry and completion of requests; see request_table.h.
#include "request_table.h"

#include <algorithm>

namespace conclave::detail {

namespace {

bool retryable(ErrorCode code) {
  // noLeader: an election is under way. unknown: a leader was lost with the
  // proposal in flight. shuttingDown: the sidecar stops; this connection
  // will drop and the request goes again on the next.
  return code == ErrorCode::no_leader || code == ErrorCode::unknown || code == ErrorCode::shutting_down;
}

}  // namespace

RequestTable::RequestTable(std::uint64_t session, std::chrono::milliseconds delay_min,
                           std::chrono::milliseconds delay_max)
    : session_(session), delay_min_(delay_min), delay_max_(std::max(delay_min, delay_max)) {}

std::uint64_t RequestTable::add(Request request, Clock::time_point now) {
  if (request.kind == Request::Kind::propose) request.seq = next_seq_++;
  std::uint64_t key = next_key_++;
  Entry e;
  e.request = std::move(request);
  e.delay = delay_min_;
  deadlines_.emplace(e.request.deadline, key);
  auto it = entries_.emplace(key, std::move(e)).first;
  schedule(key, it->second, now);
  return key;
}

void RequestTable::schedule(std::uint64_t key, Entry& e, Clock::time_point due) {
  e.in_flight = false;
  e.due = due;
  due_.emplace(due, key);
}

void RequestTable::erase(std::map<std::uint64_t, Entry>::iterator it) {
  Entry& e = it->second;
  if (e.in_flight) {
    in_flight_.erase(e.wire_id);
  } else {
    due_.erase(Timed{e.due, it->first});
  }
  deadlines_.erase(Timed{e.request.deadline, it->first});
  entries_.erase(it);
}

Frame RequestTable::encode(const Entry& e) const {
  switch (e.request.kind) {
    case Request::Kind::propose:
      return encode_propose(e.wire_id, session_, e.request.seq, floor(), e.request.data);
    case Request::Kind::barrier: return encode_barrier(e.wire_id);
    case Request::Kind::status: return encode_status(e.wire_id);
  }
  return encode_status(e.wire_id);
}

std::vector<Frame> RequestTable::take_ready(Clock::time_point now) {
  std::vector<Frame> out;
  while (!due_.empty() && due_.begin()->first <= now) {
    const std::uint64_t key = due_.begin()->second;
    due_.erase(due_.begin());
    Entry& e = entries_.at(key);
    e.in_flight = true;
    e.wire_id = next_wire_id_++;
    in_flight_[e.wire_id] = key;
    out.push_back(encode(e));
  }
  return out;
}

bool RequestTable::answer(const Answer& a, Clock::time_point now) {
  auto f = in_flight_.find(a.id);
  if (f == in_flight_.end()) return false;
  auto it = entries_.find(f->second);
  if (it == entries_.end()) {
    in_flight_.erase(f);
    return false;
  }
  Entry& e = it->second;
  if (a.code == ErrorCode::none) {
    auto done = std::move(e.request.done);
    erase(it);
    done(a);
    return true;
  }
  if (retryable(a.code) && now + e.delay < e.request.deadline) {
    in_flight_.erase(f);
    schedule(it->first, e, now + e.delay);
    e.delay = std::min(e.delay * 2, delay_max_);
    return true;
  }
  auto fail = std::move(e.request.fail);
  erase(it);
  fail(Error(a.code, a.reason.empty() ? "the sidecar gave no reason" : a.reason));
  return true;
}

void RequestTable::connection_lost(Clock::time_point now) {
  for (const auto& [wire_id, key] : in_flight_) {
    // Sent again as soon as the next connection is attached.
    schedule(key, entries_.at(key), now);
  }
  in_flight_.clear();
}

void RequestTable::expire(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto it = entries_.find(deadlines_.begin()->second);
    auto fail = std::move(it->second.request.fail);
    erase(it);
    fail(Error(ErrorCode::timeout, "no answer from the cluster before the request's deadline "
                                   "(is a majority of the sidecars up and is this one connected?)"));
  }
}

void RequestTable::fail_all(const Error& error) {
  auto entries = std::move(entries_);
  entries_.clear();
  in_flight_.clear();
  due_.clear();
  deadlines_.clear();
  for (auto& [key, e] : entries) e.request.fail(error);
}

std::optional<Clock::time_point> RequestTable::next_due(bool attached) const {
  std::optional<Clock::time_point> next;
  if (!deadlines_.empty()) next = deadlines_.begin()->first;
  if (attached && !due_.empty() && (!next || due_.begin()->first < *next)) next = due_.begin()->first;
  return next;
}

std::uint64_t RequestTable::floor() const {
  // Keys grow with seq, so the first proposal found is the lowest seq.
  for (const auto& [key, e] : entries_) {
    if (e.request.kind == Request::Kind::propose) return e.request.seq;
  }
  return next_seq_;
}

}  // namespace conclave::detail
