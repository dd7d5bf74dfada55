// The examples' command line: --socket <app socket> --http <host:port>
// [--name <name>], the same for every example.
#pragma once

#include <string>

#include "http_server.h"

namespace conclave::examples {

struct CommandLine {
  std::string socket_path;
  HttpEndpoint http;
  std::string name;
};

// Exits with a usage message on bad arguments.
CommandLine parse_command_line(int argc, char** argv, const std::string& program);

}  // namespace conclave::examples
