// Human-readable renderings of core values for log lines.
#include "sidecar/node/describe.h"

namespace conclave::node {

std::string describe(const raft::Configuration& config) {
  auto list = [&](const std::set<raft::NodeId>& ids) {
    std::string out;
    for (raft::NodeId id : ids) {
      if (!out.empty()) out += ", ";
      out += std::to_string(id.value());
      if (auto it = config.addresses.find(id); it != config.addresses.end()) out += "=" + it->second;
    }
    return "{" + out + "}";
  };
  std::string out = "voters " + list(config.voters);
  if (!config.learners.empty()) out += " learners " + list(config.learners);
  return out;
}

}  // namespace conclave::node
