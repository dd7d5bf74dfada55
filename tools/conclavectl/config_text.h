// A Raft configuration as conclavectl prints it: one line of text, or a
// JSON object ({"voters":[..],"learners":[..],"addresses":{"id":"host:port"}}).
#pragma once

#include <set>
#include <string>

#include "sidecar/raft/types.h"
#include "tools/conclavectl/json_writer.h"

namespace conclave::ctl {

inline std::string ids(const std::set<raft::NodeId>& set) {
  std::string out;
  for (auto id : set) out += (out.empty() ? "" : ",") + std::to_string(id.value());
  return out.empty() ? "-" : out;
}

inline std::string config_text(const raft::Configuration& c) {
  std::string out = "voters " + ids(c.voters) + " learners " + ids(c.learners);
  for (const auto& [id, address] : c.addresses) out += " " + std::to_string(id.value()) + "=" + address;
  return out;
}

inline void config_json(JsonWriter& j, const raft::Configuration& c) {
  j.begin_object().key("voters").begin_array();
  for (auto id : c.voters) j.value(id.value());
  j.end_array().key("learners").begin_array();
  for (auto id : c.learners) j.value(id.value());
  j.end_array().key("addresses").begin_object();
  for (const auto& [id, address] : c.addresses) j.field(std::to_string(id.value()), address);
  j.end_object().end_object();
}

}  // namespace conclave::ctl
