// The replicated lock table of conclave-lock: leases decided by log order.
//
// Time comes from the log, never from the clock of the replica applying it:
// each acquire carries the proposer's timestamp, and the table's clock is
// the largest timestamp applied so far (so it never runs backwards, even if
// proposers' clocks disagree). A lease granted at log time t for d ms holds
// until t + d in log time; it has expired for an acquire whose log time is
// past that. Every replica computes the same holder for every entry. The
// fencing token of a grant is the index of the entry that granted it: it
// grows with every grant, so a protected resource can refuse stale holders.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>

#include <conclave/handler.h>

#include "../common/recent_outcomes.h"

namespace conclave::examples {

struct LockCommand {
  enum class Op : std::uint8_t { acquire = 1, release = 2 };
  Op op = Op::acquire;
  std::string key;
  std::string owner;         // acquire
  std::uint64_t now_ms = 0;  // acquire: the proposer's wall clock, ms since the epoch
  std::uint64_t lease_ms = 0;
  std::uint64_t token = 0;  // release: the token of the grant being released
};

std::string encode(const LockCommand& command);
std::optional<LockCommand> decode_lock_command(std::string_view data);

struct Lease {
  std::string owner;
  std::uint64_t token = 0;       // the index of the granting entry
  std::uint64_t expires_ms = 0;  // in log time
};

struct LockOutcome {
  bool granted = false;  // acquire granted / release accepted
  Lease lease;           // acquire: the grant, or the lease that blocks it
  std::string reason;    // when refused
};

class LockTable final : public Handler {
 public:
  void bootstrap() override;
  void join(Index index, SnapshotReader& snapshot) override;
  void entry(Index index, Term term, std::string_view data) override;
  void snapshot(Index index, SnapshotWriter& out) override;

  // The lease on `key` unless it is free, as of the log time applied so far.
  std::optional<Lease> holder(const std::string& key) const;
  std::uint64_t log_time_ms() const;
  std::optional<LockOutcome> outcome(Index index) const;

 private:
  LockOutcome apply(Index index, const LockCommand& command);

  mutable std::shared_mutex mutex_;
  std::uint64_t log_time_ms_ = 0;
  std::map<std::string, Lease> leases_;
  RecentOutcomes<LockOutcome> outcomes_;
};

}  // namespace conclave::examples
