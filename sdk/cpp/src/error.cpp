// Error: a code and the reason a person can act on.
#include "conclave/error.h"

namespace conclave {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::none: return "none";
    case ErrorCode::no_leader: return "noLeader";
    case ErrorCode::unknown: return "unknown";
    case ErrorCode::rejected: return "rejected";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::malformed: return "malformed";
    case ErrorCode::shutting_down: return "shuttingDown";
    case ErrorCode::internal: return "internal";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::version: return "version";
    case ErrorCode::disconnected: return "disconnected";
    case ErrorCode::stopped: return "stopped";
    case ErrorCode::handler_failed: return "handlerFailed";
    case ErrorCode::snapshot_failed: return "snapshotFailed";
  }
  return "?";
}

Error::Error(ErrorCode code, std::string reason)
    : std::runtime_error("conclave: " + std::string(to_string(code)) + ": " + reason),
      code_(code),
      reason_(std::move(reason)) {}

}  // namespace conclave
