// conclave-kv: a replicated key-value service. Run one beside each node's
// sidecar:  conclave-kv --socket <app socket> --http 127.0.0.1:<port>
#include <cstdlib>
#include <iostream>

#include <conclave/conclave.h>

#include "../common/cli.h"
#include "kv_service.h"
#include "kv_store.h"

int main(int argc, char** argv) {
  using namespace conclave::examples;
  CommandLine cli = parse_command_line(argc, argv, "conclave-kv");

  KvStore store;
  conclave::ClientOptions options;
  options.socket_path = cli.socket_path;
  options.name = cli.name;
  options.on_error = [](const conclave::Error& e) { std::cerr << "conclave-kv: " << e.what() << "\n"; };
  conclave::Client client(store, options);
  KvService service(client, store, options.request_timeout);

  serve_http(cli.http, [&service](const HttpRequest& r) { return service.handle(r); });
  client.stop();
  // HTTP threads may still be blocked on their sockets; the state is the
  // cluster's, not this process's, so leave without unwinding them.
  std::quick_exit(0);
}
