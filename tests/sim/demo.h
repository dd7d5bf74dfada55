// The demo: a 5-node cluster on a calm network electing a leader,
// replicating, losing that leader to a partition, electing another, healing
// and catching up, told in plain lines (scripts/demo shows it until the
// daemon exists). The checkers run underneath as in any other run.
#pragma once

#include <cstdint>

namespace conclave::sim {

// Returns the process exit code.
int run_demo(std::uint64_t seed);

}  // namespace conclave::sim
