// conclave-lock: leases with fencing tokens, decided by log order. Run one
// beside each node's sidecar:
//   conclave-lock --socket <app socket> --http 127.0.0.1:<port>
#include "../common/example_main.h"
#include "lock_service.h"
#include "lock_table.h"

int main(int argc, char** argv) {
  using namespace conclave::examples;
  LockTable table;
  return run_example(argc, argv, "conclave-lock", table, [&table](conclave::Client& client, auto timeout) {
    auto service = std::make_shared<LockService>(client, table, timeout);
    return HttpService([service](const HttpRequest& r) { return service->handle(r); });
  });
}
