// Granting, releasing and expiring leases in log order; the snapshot is the
// log time (u64) and the leases (u64 count; key, owner, token, expiry).
#include "lock_table.h"

#include <mutex>
#include <stdexcept>

#include "../common/codec.h"

namespace conclave::examples {

std::string encode(const LockCommand& c) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(c.op));
  w.bytes(c.key);
  if (c.op == LockCommand::Op::acquire) {
    w.bytes(c.owner);
    w.u64(c.now_ms);
    w.u64(c.lease_ms);
  } else {
    w.u64(c.token);
  }
  return std::move(w.str());
}

std::optional<LockCommand> decode_lock_command(std::string_view data) {
  Reader r(data);
  LockCommand c;
  std::uint8_t op = r.u8();
  c.key = r.bytes();
  if (op == static_cast<std::uint8_t>(LockCommand::Op::acquire)) {
    c.op = LockCommand::Op::acquire;
    c.owner = r.bytes();
    c.now_ms = r.u64();
    c.lease_ms = r.u64();
  } else if (op == static_cast<std::uint8_t>(LockCommand::Op::release)) {
    c.op = LockCommand::Op::release;
    c.token = r.u64();
  } else {
    return std::nullopt;
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return c;
}

void LockTable::bootstrap() {
  std::unique_lock lock(mutex_);
  log_time_ms_ = 0;
  leases_.clear();
  outcomes_.clear();
}

void LockTable::join(Index, SnapshotReader& snapshot) {
  std::string bytes = snapshot.read_all();
  Reader r(bytes);
  std::uint64_t log_time = r.u64();
  std::map<std::string, Lease> leases;
  std::uint64_t count = r.u64();
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    std::string key = r.bytes();
    Lease lease;
    lease.owner = r.bytes();
    lease.token = r.u64();
    lease.expires_ms = r.u64();
    leases[std::move(key)] = std::move(lease);
  }
  if (!r.ok() || !r.at_end()) throw std::runtime_error("lock: the snapshot to join from is corrupt");
  std::unique_lock lock(mutex_);
  log_time_ms_ = log_time;
  leases_ = std::move(leases);
  outcomes_.clear();
}

void LockTable::entry(Index index, Term, std::string_view data) {
  auto command = decode_lock_command(data);
  std::unique_lock lock(mutex_);
  LockOutcome outcome = command ? apply(index, *command) : LockOutcome{false, {}, "not a lock command"};
  outcomes_.record(index, std::move(outcome));
}

LockOutcome LockTable::apply(Index index, const LockCommand& c) {
  if (c.op == LockCommand::Op::acquire) {
    log_time_ms_ = std::max(log_time_ms_, c.now_ms);
    auto it = leases_.find(c.key);
    if (it != leases_.end() && it->second.expires_ms > log_time_ms_) {
      return LockOutcome{false, it->second, "held by " + it->second.owner};
    }
    // Saturate rather than wrap: a huge lease means "until released".
    std::uint64_t expires = log_time_ms_ + c.lease_ms < log_time_ms_ ? UINT64_MAX : log_time_ms_ + c.lease_ms;
    Lease granted{c.owner, index, expires};
    leases_[c.key] = granted;
    return LockOutcome{true, granted, {}};
  }
  auto it = leases_.find(c.key);
  if (it == leases_.end() || it->second.token != c.token) {
    return LockOutcome{false, {}, "token " + std::to_string(c.token) + " does not hold " + c.key};
  }
  // Releasing an expired lease is harmless; either way the key is free.
  leases_.erase(it);
  return LockOutcome{true, {}, {}};
}

void LockTable::snapshot(Index, SnapshotWriter& out) {
  Writer w;
  std::shared_lock lock(mutex_);
  w.u64(log_time_ms_);
  w.u64(leases_.size());
  for (const auto& [key, lease] : leases_) {
    w.bytes(key);
    w.bytes(lease.owner);
    w.u64(lease.token);
    w.u64(lease.expires_ms);
  }
  lock.unlock();
  out.write(w.str());
}

std::optional<Lease> LockTable::holder(const std::string& key) const {
  std::shared_lock lock(mutex_);
  auto it = leases_.find(key);
  if (it == leases_.end() || it->second.expires_ms <= log_time_ms_) return std::nullopt;
  return it->second;
}

std::uint64_t LockTable::log_time_ms() const {
  std::shared_lock lock(mutex_);
  return log_time_ms_;
}

std::optional<LockOutcome> LockTable::outcome(Index index) const {
  std::shared_lock lock(mutex_);
  return outcomes_.find(index);
}

}  // namespace conclave::examples
