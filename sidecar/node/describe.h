// Short human-readable renderings of core values for the node's log lines.
#pragma once

#include <string>

#include "sidecar/raft/types.h"

namespace conclave::node {

// "voters {1=127.0.0.1:7001, 2=...} learners {4=...}"
std::string describe(const raft::Configuration& config);

}  // namespace conclave::node
