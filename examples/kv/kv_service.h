// The HTTP routes of conclave-kv, over the SDK client and the local store:
//   PUT    /kv/<key>        body = value; answers once applied locally
//   GET    /kv/<key>        linearizable (barrier, then a local read); ?stale reads locally at once
//   DELETE /kv/<key>
//   POST   /kv/<key>/inc    body = optional amount (default 1); answers the new value
//   POST   /kv/<key>/dec
//   GET    /kv              every key and value, one "key=value" per line
#pragma once

#include <chrono>

#include <conclave/client.h>

#include "../common/http_server.h"
#include "kv_store.h"

namespace conclave::examples {

class KvService {
 public:
  KvService(Client& client, KvStore& store, std::chrono::milliseconds timeout)
      : client_(client), store_(store), timeout_(timeout) {}

  // Runs on the HTTP threads (never on the SDK's callback thread: it waits).
  HttpAnswer handle(const HttpRequest& request);

 private:
  // Proposes, waits until the entry is applied here, returns what it did.
  KvOutcome commit(const KvCommand& command);

  Client& client_;
  KvStore& store_;
  std::chrono::milliseconds timeout_;
};

}  // namespace conclave::examples
