// The replicated key-value map of conclave-kv: the Handler that applies
// commands from the log, snapshots the map and joins from one. HTTP threads
// read it concurrently with the SDK's callback thread, hence the lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include <conclave/handler.h>

#include "../common/recent_outcomes.h"

namespace conclave::examples {

// One log entry of the kv service.
struct KvCommand {
  enum class Op : std::uint8_t { put = 1, erase = 2, add = 3 };
  Op op = Op::put;
  std::string key;
  std::string value;       // put
  std::int64_t delta = 0;  // add: the number to add to the key's (integer) value
};

std::string encode(const KvCommand& command);
std::optional<KvCommand> decode_kv_command(std::string_view data);

// What applying an entry did, for the proposer's answer.
struct KvOutcome {
  bool ok = true;
  std::string value;  // add: the new value; on failure: why
};

class KvStore final : public Handler {
 public:
  void bootstrap() override;
  void join(Index index, SnapshotReader& snapshot) override;
  void entry(Index index, Term term, std::string_view data) override;
  void snapshot(Index index, SnapshotWriter& out) override;

  std::optional<std::string> get(const std::string& key) const;
  std::vector<std::pair<std::string, std::string>> list() const;
  // The outcome of the entry at `index`, if it was a kv command and is
  // among the most recent entries.
  std::optional<KvOutcome> outcome(Index index) const;

 private:
  KvOutcome apply(const KvCommand& command);

  mutable std::shared_mutex mutex_;
  std::map<std::string, std::string> data_;
  RecentOutcomes<KvOutcome> outcomes_;
};

}  // namespace conclave::examples
