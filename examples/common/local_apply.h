// The two waits every example's HTTP handler needs: a write answered once
// this node has applied it, and a read made linearizable (a barrier, then
// waiting until this node has applied through the read index). Both block:
// call them from HTTP threads, never from a handler callback.
#pragma once

#include <chrono>
#include <string>

#include <conclave/client.h>

#include "http_server.h"

namespace conclave::examples {

// Proposes `data` and waits until this node has applied it; its index.
Index commit_and_apply(Client& client, std::string data, std::chrono::milliseconds timeout);

// Returns once a local read reflects every write committed before the call.
void catch_up_for_read(Client& client, std::chrono::milliseconds timeout);

// An SDK error as an HTTP answer: 503 when retrying later may work.
HttpAnswer answer_for(const Error& error);

}  // namespace conclave::examples
