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
  e.due = now;
  e.delay = delay_min_;
  entries_.emplace(key, std::move(e));
  return key;
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
  for (auto& [key, e] : entries_) {
    if (e.in_flight || e.due > now) continue;
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
  in_flight_.erase(f);
  if (it == entries_.end()) return false;
  Entry& e = it->second;
  e.in_flight = false;
  if (a.code == ErrorCode::none) {
    auto done = std::move(e.request.done);
    entries_.erase(it);
    done(a);
    return true;
  }
  if (retryable(a.code) && now + e.delay < e.request.deadline) {
    e.due = now + e.delay;
    e.delay = std::min(e.delay * 2, delay_max_);
    return true;
  }
  auto fail = std::move(e.request.fail);
  entries_.erase(it);
  fail(Error(a.code, a.reason.empty() ? "the sidecar gave no reason" : a.reason));
  return true;
}

void RequestTable::connection_lost(Clock::time_point now) {
  in_flight_.clear();
  for (auto& [key, e] : entries_) {
    if (!e.in_flight) continue;
    e.in_flight = false;
    e.due = now;  // sent again as soon as the next connection is attached
  }
}

void RequestTable::expire(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.request.deadline > now) {
      ++it;
      continue;
    }
    if (it->second.in_flight) in_flight_.erase(it->second.wire_id);
    auto fail = std::move(it->second.request.fail);
    it = entries_.erase(it);
    fail(Error(ErrorCode::timeout, "no answer from the cluster before the request's deadline "
                                   "(is a majority of the sidecars up and is this one connected?)"));
  }
}

void RequestTable::fail_all(const Error& error) {
  auto entries = std::move(entries_);
  entries_.clear();
  in_flight_.clear();
  for (auto& [key, e] : entries) e.request.fail(error);
}

std::optional<Clock::time_point> RequestTable::next_due(bool attached) const {
  std::optional<Clock::time_point> next;
  for (const auto& [key, e] : entries_) {
    auto t = e.in_flight || !attached ? e.request.deadline : std::min(e.due, e.request.deadline);
    if (!next || t < *next) next = t;
  }
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
