// The Conclave C++ SDK: an application implements conclave::Handler, opens a
// conclave::Client on its sidecar's socket, and becomes a replicated state
// machine. No Cap'n Proto or Asio types appear here: the protocol
// (schema/app.capnp) stays inside the library.
#pragma once

#include "conclave/client.h"
#include "conclave/error.h"
#include "conclave/handler.h"
