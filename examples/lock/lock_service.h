// The HTTP routes of conclave-lock:
//   POST   /lock/<key>?lease_ms=N[&wait_ms=M]   body = owner name; 200 with the
//          fencing token, or 409 (held) once wait_ms has passed without a grant
//   DELETE /lock/<key>?token=T                  204, or 409 if T does not hold it
//   GET    /lock/<key>                          linearizable: "owner token expires_ms", or 404 when free
#pragma once

#include <chrono>

#include <conclave/client.h>

#include "../common/http_server.h"
#include "lock_table.h"

namespace conclave::examples {

class LockService {
 public:
  LockService(Client& client, LockTable& table, std::chrono::milliseconds timeout)
      : client_(client), table_(table), timeout_(timeout) {}

  HttpAnswer handle(const HttpRequest& request);

 private:
  HttpAnswer acquire(const std::string& key, const HttpRequest& request);
  LockOutcome commit(const LockCommand& command);

  Client& client_;
  LockTable& table_;
  std::chrono::milliseconds timeout_;
};

}  // namespace conclave::examples
