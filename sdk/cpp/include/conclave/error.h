// Errors of the Conclave SDK: what the sidecar answered (its code and its
// reason, verbatim) or what the SDK itself decided (disconnected, timeout,
// stopped, a handler that threw).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace conclave {

enum class ErrorCode {
  // The sidecar's codes (schema/app.capnp ErrorCode), same meaning.
  none,
  no_leader,      // no leader known; the SDK retries these itself until the deadline
  unknown,        // outcome unknown; the SDK retries with the same session and seq
  rejected,       // the sidecar refused the request; see the reason
  timeout,        // the request's deadline passed (sidecar's or the SDK's)
  malformed,      // the SDK broke the protocol (a bug: report it)
  shutting_down,  // the sidecar is stopping; the SDK reconnects
  internal,       // the sidecar failed (e.g. its disk); see its log
  forbidden,      // this process may not use the socket (uid/gid not allowed)
  version,        // the sidecar does not speak this SDK's protocol version
  // The SDK's own.
  disconnected,    // the connection to the sidecar was lost (it is being re-established)
  stopped,         // the Client was stopped or destroyed
  handler_failed,  // a handler callback threw; the client stopped applying
  // snapshot() threw: the SDK told the sidecar, which asks again later;
  // applying goes on (the state itself is intact).
  snapshot_failed,
};

// The code's name as the schema spells it ("noLeader", "unknown", ...).
std::string_view to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string reason);
  ErrorCode code() const noexcept { return code_; }
  // The reason alone, without the code (what() says both).
  const std::string& reason() const noexcept { return reason_; }

 private:
  ErrorCode code_;
  std::string reason_;
};

}  // namespace conclave
