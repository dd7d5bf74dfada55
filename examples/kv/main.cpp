// conclave-kv: a replicated key-value service. Run one beside each node's
// sidecar:  conclave-kv --socket <app socket> --http 127.0.0.1:<port>
#include "../common/example_main.h"
#include "kv_service.h"
#include "kv_store.h"

int main(int argc, char** argv) {
  using namespace conclave::examples;
  KvStore store;
  return run_example(argc, argv, "conclave-kv", store, [&store](conclave::Client& client, auto timeout) {
    auto service = std::make_shared<KvService>(client, store, timeout);
    return HttpService([service](const HttpRequest& r) { return service->handle(r); });
  });
}
