// An application's handler against the installed SDK: exercised with the
// test double, and a Client type that links (it is not connected).
#include <conclave/conclave.h>
#include <conclave/testing.h>

#include <cstdio>
#include <string>

namespace {

class Counter : public conclave::Handler {
 public:
  void bootstrap() override { total = 0; }
  void join(conclave::Index, conclave::SnapshotReader& r) override { total = std::stoll(r.read_all()); }
  void entry(conclave::Index, conclave::Term, std::string_view data) override { total += std::stoll(std::string(data)); }
  void snapshot(conclave::Index, conclave::SnapshotWriter& out) override { out.write(std::to_string(total)); }
  long long total = 0;
};

}  // namespace

int main() {
  conclave::testing::LocalSidecar sidecar;
  Counter a;
  sidecar.attach(a);
  sidecar.propose("40");
  sidecar.snapshot(a);
  sidecar.propose("2");
  Counter b;
  sidecar.attach(b);
  conclave::ClientOptions options;  // a Client needs a running sidecar; only the type is checked here
  options.socket_path = "/nonexistent/app.sock";
  if (a.total != 42 || b.total != 42) {
    std::fprintf(stderr, "consumer: expected 42 on both handlers, got %lld and %lld\n", a.total, b.total);
    return 1;
  }
  std::puts("consumer: find_package(Conclave) works");
  return 0;
}
