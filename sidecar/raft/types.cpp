// Encodings of configuration changes and configurations. Little-endian,
// versionless and tiny: a config entry lives in the replicated log forever,
// so its format is fixed here and only ever extended with a new type byte.
#include "sidecar/raft/types.h"

#include <cstring>

namespace conclave::raft {
namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_u64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  in.remove_prefix(8);
  return true;
}

void put_string(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

bool get_string(std::string_view& in, std::string& s) {
  std::uint64_t n = 0;
  if (!get_u64(in, n) || n > in.size()) return false;
  s.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

void put_set(std::string& out, const std::set<NodeId>& ids) {
  put_u64(out, ids.size());
  for (NodeId id : ids) put_u64(out, id.value());
}

bool get_set(std::string_view& in, std::set<NodeId>& ids) {
  std::uint64_t n = 0;
  if (!get_u64(in, n) || n > in.size() / 8) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t id = 0;
    if (!get_u64(in, id) || id == 0 || !ids.insert(NodeId(id)).second) return false;
  }
  return true;
}

}  // namespace

std::string encode_config_change(const ConfigChange& change) {
  std::string out;
  out.push_back(static_cast<char>(change.type));
  if (change.type == ConfigChangeType::kBootstrap) return out + encode_configuration(change.founders);
  put_u64(out, change.node.value());
  if (change.type == ConfigChangeType::kAddLearner) put_string(out, change.address);
  return out;
}

std::optional<ConfigChange> decode_config_change(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  auto type = static_cast<ConfigChangeType>(bytes[0]);
  if (type == ConfigChangeType::kBootstrap) {
    auto founders = decode_configuration(bytes.substr(1));
    if (!founders || founders->voters.empty()) return std::nullopt;
    return ConfigChange::founding(*founders);
  }
  if (type != ConfigChangeType::kAddLearner && type != ConfigChangeType::kPromote &&
      type != ConfigChangeType::kRemove) {
    return std::nullopt;
  }
  bytes.remove_prefix(1);
  std::uint64_t node = 0;
  if (!get_u64(bytes, node) || node == 0) return std::nullopt;
  std::string address;
  if (type == ConfigChangeType::kAddLearner && !get_string(bytes, address)) return std::nullopt;
  if (!bytes.empty()) return std::nullopt;
  return ConfigChange(type, NodeId(node), std::move(address));
}

std::string encode_configuration(const Configuration& config) {
  std::string out;
  put_set(out, config.voters);
  put_set(out, config.learners);
  put_u64(out, config.addresses.size());
  for (const auto& [id, address] : config.addresses) {
    put_u64(out, id.value());
    put_string(out, address);
  }
  return out;
}

std::optional<Configuration> decode_configuration(std::string_view bytes) {
  Configuration config;
  if (!get_set(bytes, config.voters) || !get_set(bytes, config.learners)) return std::nullopt;
  std::uint64_t n = 0;
  if (!get_u64(bytes, n) || n > bytes.size() / 16) return std::nullopt;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t id = 0;
    std::string address;
    if (!get_u64(bytes, id) || !get_string(bytes, address)) return std::nullopt;
    if (!config.contains(NodeId(id)) || !config.addresses.emplace(NodeId(id), std::move(address)).second) {
      return std::nullopt;
    }
  }
  if (!bytes.empty()) return std::nullopt;
  for (NodeId id : config.learners) {
    if (config.voters.count(id)) return std::nullopt;
  }
  return config;
}

Configuration apply_config_change(Configuration config, const ConfigChange& change) {
  switch (change.type) {
    case ConfigChangeType::kAddLearner:
      config.voters.erase(change.node);
      config.learners.insert(change.node);
      if (!change.address.empty()) config.addresses[change.node] = change.address;
      break;
    case ConfigChangeType::kPromote:
      config.learners.erase(change.node);
      config.voters.insert(change.node);
      break;
    case ConfigChangeType::kRemove:
      config.learners.erase(change.node);
      config.voters.erase(change.node);
      config.addresses.erase(change.node);
      break;
    case ConfigChangeType::kBootstrap:
      config = change.founders;
      break;
  }
  return config;
}

std::ostream& operator<<(std::ostream& os, const Configuration& config) {
  os << "voters={";
  const char* sep = "";
  for (NodeId id : config.voters) { os << sep << id; sep = ","; }
  os << "} learners={";
  sep = "";
  for (NodeId id : config.learners) { os << sep << id; sep = ","; }
  return os << "}";
}

}  // namespace conclave::raft
