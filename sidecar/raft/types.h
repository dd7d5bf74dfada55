// The vocabulary of the Raft core: strong numeric types, log entries, the
// cluster configuration and the durable hard state. Storage, transport and the
// simulator all speak these types, so this header has no dependency beyond the
// standard library.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>

namespace conclave::raft {

// A number that cannot be confused with another kind of number: a Term can
// never be passed where an Index is expected (ScyllaDB's raft does the same).
template <typename Tag>
class Strong {
 public:
  constexpr Strong() = default;
  constexpr explicit Strong(std::uint64_t v) : value_(v) {}
  constexpr std::uint64_t value() const { return value_; }
  constexpr auto operator<=>(const Strong&) const = default;
  constexpr Strong next() const { return Strong(value_ + 1); }
  constexpr Strong prev() const { return Strong(value_ == 0 ? 0 : value_ - 1); }
  friend std::ostream& operator<<(std::ostream& os, Strong s) { return os << s.value_; }

 private:
  std::uint64_t value_ = 0;
};

struct TermTag {};
struct IndexTag {};
struct NodeIdTag {};
using Term = Strong<TermTag>;
using Index = Strong<IndexTag>;
// Node id 0 means "nobody" (no vote, no known leader); real nodes are >= 1.
using NodeId = Strong<NodeIdTag>;
inline constexpr NodeId kNoNode{0};

enum class EntryType : std::uint8_t {
  // Application data proposed through propose().
  kNormal = 1,
  // The empty entry a new leader appends to commit its predecessors' entries.
  kNoop = 2,
  // A membership change; data holds an encoded ConfigChange.
  kConfig = 3,
};

struct Entry {
  Index index;
  Term term;
  EntryType type = EntryType::kNormal;
  std::string data;

  bool operator==(const Entry&) const = default;
};

// Voters elect and count toward commit; learners receive the log but do not
// vote. A node is in at most one of the two sets. Addresses (opaque to the
// core: "host:port" for the peer transport) travel with the membership, as
// LogCabin's configurations do, so that whoever leads can reach everyone.
struct Configuration {
  std::set<NodeId> voters;
  std::set<NodeId> learners;
  std::map<NodeId, std::string> addresses;

  bool operator==(const Configuration&) const = default;
  bool is_voter(NodeId id) const { return voters.count(id) != 0; }
  bool is_learner(NodeId id) const { return learners.count(id) != 0; }
  bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
  std::size_t quorum() const { return voters.size() / 2 + 1; }
};

// One server at a time: add a learner, promote a caught-up learner to voter,
// or remove a node (voter or learner). See raft.h for why.
enum class ConfigChangeType : std::uint8_t {
  kAddLearner = 1,
  kPromote = 2,
  kRemove = 3,
  // The founding configuration of a new cluster: the first entry of its log
  // (see bootstrap() in raft.h). Never proposed.
  kBootstrap = 4,
};

struct ConfigChange {
  ConfigChangeType type = ConfigChangeType::kAddLearner;
  NodeId node;
  // kAddLearner: where the new node listens for peers (may be empty).
  std::string address;
  // kBootstrap only: the whole founding configuration.
  Configuration founders;

  ConfigChange() = default;
  ConfigChange(ConfigChangeType t, NodeId n, std::string addr = {})
      : type(t), node(n), address(std::move(addr)) {}
  static ConfigChange founding(Configuration founders) {
    ConfigChange c(ConfigChangeType::kBootstrap, kNoNode);
    c.founders = std::move(founders);
    return c;
  }

  bool operator==(const ConfigChange&) const = default;
};

// What must survive a crash besides the log. A vote or term change is made
// durable before any message that depends on it is sent.
struct HardState {
  Term term;
  NodeId vote = kNoNode;
  Index commit;

  bool operator==(const HardState&) const = default;
};

// What a snapshot covers: the state after applying every entry through
// `index`, and the configuration in force at that point.
struct SnapshotMeta {
  Index index;
  Term term;
  Configuration config;

  bool operator==(const SnapshotMeta&) const = default;
};

// Stable little-endian encodings, used in log entries and on disk. decode_*
// returns nullopt on malformed input rather than trusting it.
std::string encode_config_change(const ConfigChange& change);
std::optional<ConfigChange> decode_config_change(std::string_view bytes);
std::string encode_configuration(const Configuration& config);
std::optional<Configuration> decode_configuration(std::string_view bytes);

// Applies a change to a configuration; the caller has validated it.
Configuration apply_config_change(Configuration config, const ConfigChange& change);

std::ostream& operator<<(std::ostream& os, const Configuration& config);

}  // namespace conclave::raft

template <typename Tag>
struct std::hash<conclave::raft::Strong<Tag>> {
  std::size_t operator()(conclave::raft::Strong<Tag> s) const noexcept {
    return std::hash<std::uint64_t>{}(s.value());
  }
};
