// See example_main.h.
#include "example_main.h"

#include <cstdlib>
#include <iostream>

#include "cli.h"

namespace conclave::examples {

int run_example(int argc, char** argv, const std::string& program, Handler& handler,
                const std::function<HttpService(Client&, std::chrono::milliseconds)>& make_service) {
  CommandLine cli = parse_command_line(argc, argv, program);
  ClientOptions options;
  options.socket_path = cli.socket_path;
  options.name = cli.name;
  options.on_error = [program](const Error& e) { std::cerr << program << ": " << e.what() << "\n"; };
  Client client(handler, options);
  serve_http(cli.http, make_service(client, options.request_timeout));
  client.stop();
  // HTTP threads may still be blocked on their sockets; the state is the
  // cluster's, not this process's, so leave without unwinding them.
  std::quick_exit(0);
}

}  // namespace conclave::examples
