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
  const std::uint64_t key = first_key_ + entries_.size();
  Entry& e = entries_.emplace_back(Entry{}).value();
  e.request = std::move(request);
  e.delay = delay_min_;
  e.due = now;
  ++live_;
  fresh_.push_back(key);
  return key;
}

RequestTable::Entry* RequestTable::find(std::uint64_t key) {
  if (key < first_key_ || key - first_key_ >= entries_.size()) return nullptr;
  auto& slot = entries_[key - first_key_];
  return slot ? &*slot : nullptr;
}

void RequestTable::schedule_retry(std::uint64_t key, Entry& e, Clock::time_point due) {
  e.in_flight = false;
  e.due = due;
  retries_.emplace(due, key);
}

void RequestTable::erase(std::uint64_t key) {
  Entry& e = *find(key);
  if (e.in_flight) {
    in_flight_.erase(e.wire_id);
  } else {
    retries_.erase(Timed{e.due, key});  // or it is in fresh_, which skips it
  }
  entries_[key - first_key_].reset();
  --live_;
  while (!entries_.empty() && !entries_.front()) {
    entries_.pop_front();
    ++first_key_;
  }
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
  auto send = [&](std::uint64_t key, Entry& e) {
    e.in_flight = true;
    e.wire_id = next_wire_id_++;
    in_flight_.emplace(e.wire_id, key);
    out.push_back(encode(e));
  };
  while (!retries_.empty() && retries_.begin()->first <= now) {
    const std::uint64_t key = retries_.begin()->second;
    retries_.erase(retries_.begin());
    send(key, *find(key));
  }
  while (!fresh_.empty()) {
    const std::uint64_t key = fresh_.front();
    fresh_.pop_front();
    if (Entry* e = find(key); e && !e->in_flight) send(key, *e);
  }
  return out;
}

bool RequestTable::answer(const Answer& a, Clock::time_point now) {
  auto f = in_flight_.find(a.id);
  if (f == in_flight_.end()) return false;
  const std::uint64_t key = f->second;
  Entry* found = find(key);
  if (!found) {
    in_flight_.erase(f);
    return false;
  }
  Entry& e = *found;
  if (a.code == ErrorCode::none) {
    auto done = std::move(e.request.done);
    erase(key);
    done(a);
    return true;
  }
  if (retryable(a.code) && now + e.delay < e.request.deadline) {
    in_flight_.erase(f);
    schedule_retry(key, e, now + e.delay);
    e.delay = std::min(e.delay * 2, delay_max_);
    return true;
  }
  auto fail = std::move(e.request.fail);
  erase(key);
  fail(Error(a.code, a.reason.empty() ? "the sidecar gave no reason" : a.reason));
  return true;
}

void RequestTable::connection_lost(Clock::time_point) {
  // Whatever was in flight goes again as soon as the next connection is
  // attached, with what was never sent, oldest first.
  std::vector<std::uint64_t> keys(fresh_.begin(), fresh_.end());
  for (const auto& [wire_id, key] : in_flight_) {
    find(key)->in_flight = false;
    keys.push_back(key);
  }
  in_flight_.clear();
  std::sort(keys.begin(), keys.end());
  fresh_.assign(keys.begin(), keys.end());
}

void RequestTable::expire(Clock::time_point now) {
  while (!entries_.empty() && entries_.front()->request.deadline <= now) {
    auto fail = std::move(entries_.front()->request.fail);
    erase(first_key_);
    fail(Error(ErrorCode::timeout, "no answer from the cluster before the request's deadline "
                                   "(is a majority of the sidecars up and is this one connected?)"));
  }
}

void RequestTable::fail_all(const Error& error) {
  auto entries = std::move(entries_);
  entries_.clear();
  first_key_ += entries.size();
  live_ = 0;
  in_flight_.clear();
  fresh_.clear();
  retries_.clear();
  for (auto& e : entries) {
    if (e) e->request.fail(error);
  }
}

std::optional<Clock::time_point> RequestTable::next_due(bool attached) const {
  std::optional<Clock::time_point> next;
  if (!entries_.empty()) next = entries_.front()->request.deadline;
  if (!attached) return next;
  auto earlier = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  if (!retries_.empty()) earlier(retries_.begin()->first);
  // A fresh key whose request is gone makes take_ready run once for nothing.
  if (!fresh_.empty()) earlier(Clock::time_point::min());
  return next;
}

std::uint64_t RequestTable::floor() const {
  // Keys grow with seq, so the first proposal found is the lowest seq.
  for (const auto& e : entries_) {
    if (e && e->request.kind == Request::Kind::propose) return e->request.seq;
  }
  return next_seq_;
}

}  // namespace conclave::detail
