// The body of every example's main(): parse the command line, connect a
// Client for the example's handler, serve HTTP until a signal, leave.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <conclave/client.h>

#include "http_server.h"

namespace conclave::examples {

// make_service builds the HTTP routes over the connected client and the
// request timeout. Returns the process's exit status.
int run_example(int argc, char** argv, const std::string& program, Handler& handler,
                const std::function<HttpService(Client&, std::chrono::milliseconds)>& make_service);

}  // namespace conclave::examples
