// The names of the admin values. See admin_types.h.
#include "schema/admin_types.h"

namespace conclave::admin {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone: return "none";
    case ErrorCode::kNotLeader: return "notLeader";
    case ErrorCode::kNoLeader: return "noLeader";
    case ErrorCode::kRejected: return "rejected";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kShuttingDown: return "shuttingDown";
  }
  return "unknown";  // a code added to the schema after this build
}

}  // namespace conclave::admin
