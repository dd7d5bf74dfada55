// Parsing the examples' shared command line.
#include "cli.h"

#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string_view>

namespace conclave::examples {

namespace {

[[noreturn]] void usage(const std::string& program, const std::string& problem) {
  if (!problem.empty()) std::cerr << program << ": " << problem << "\n";
  std::cerr << "usage: " << program << " --socket <sidecar app socket> --http <host:port> [--name <name>]\n";
  std::exit(2);
}

}  // namespace

CommandLine parse_command_line(int argc, char** argv, const std::string& program) {
  CommandLine out;
  out.name = program;
  bool have_http = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") usage(program, "");
    if (i + 1 >= argc) usage(program, "missing value after " + std::string(arg));
    std::string value = argv[++i];
    if (arg == "--socket") {
      out.socket_path = value;
    } else if (arg == "--http") {
      try {
        out.http = parse_endpoint(value);
      } catch (const std::invalid_argument& e) {
        usage(program, e.what());
      }
      have_http = true;
    } else if (arg == "--name") {
      out.name = value;
    } else {
      usage(program, "unknown option " + std::string(arg));
    }
  }
  if (out.socket_path.empty()) usage(program, "--socket is required");
  if (!have_http) usage(program, "--http is required");
  return out;
}

}  // namespace conclave::examples
