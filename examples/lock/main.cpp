// conclave-lock: leases with fencing tokens, decided by log order. Run one
// beside each node's sidecar:
//   conclave-lock --socket <app socket> --http 127.0.0.1:<port>
#include <cstdlib>
#include <iostream>

#include <conclave/conclave.h>

#include "../common/cli.h"
#include "lock_service.h"
#include "lock_table.h"

int main(int argc, char** argv) {
  using namespace conclave::examples;
  CommandLine cli = parse_command_line(argc, argv, "conclave-lock");

  LockTable table;
  conclave::ClientOptions options;
  options.socket_path = cli.socket_path;
  options.name = cli.name;
  options.on_error = [](const conclave::Error& e) { std::cerr << "conclave-lock: " << e.what() << "\n"; };
  conclave::Client client(table, options);
  LockService service(client, table, options.request_timeout);

  serve_http(cli.http, [&service](const HttpRequest& r) { return service.handle(r); });
  client.stop();
  // See examples/kv/main.cpp: HTTP threads are abandoned at exit.
  std::quick_exit(0);
}
