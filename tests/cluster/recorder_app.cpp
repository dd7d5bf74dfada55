// conclave-test-recorder: an application for the cluster tests that writes
// every callback it receives, one line each, to a file (flushed as it goes),
// so a test can compare what the applications on different nodes saw. Its
// state is the list of lines; a snapshot is that list, and a join replaces
// it. It runs until killed.
//
//   conclave-test-recorder <app socket> <output file>
#include <conclave/conclave.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

class Recorder final : public conclave::Handler {
 public:
  explicit Recorder(std::string path) : path_(std::move(path)) {}

  void bootstrap() override { reset({"bootstrap"}); }
  void join(conclave::Index index, conclave::SnapshotReader& r) override {
    std::vector<std::string> lines;
    std::string all = r.read_all();
    for (std::size_t at = 0; at < all.size();) {
      std::size_t end = all.find('\n', at);
      lines.push_back(all.substr(at, end - at));
      at = end + 1;
    }
    lines.push_back("joined " + std::to_string(index));
    reset(std::move(lines));
  }
  void entry(conclave::Index index, conclave::Term, std::string_view data) override {
    add("entry " + std::to_string(index) + " " + std::string(data));
  }
  void arrive(conclave::Index index, conclave::NodeId node, std::string_view) override {
    add("arrive " + std::to_string(index) + " " + std::to_string(node));
  }
  void depart(conclave::Index index, conclave::NodeId node, std::string_view) override {
    add("depart " + std::to_string(index) + " " + std::to_string(node));
  }
  void snapshot(conclave::Index, conclave::SnapshotWriter& out) override {
    for (const auto& line : lines_) out.write(line + "\n");
  }

 private:
  void reset(std::vector<std::string> lines) {
    lines_ = std::move(lines);
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& line : lines_) out << line << '\n';
  }
  void add(std::string line) {
    std::ofstream(path_, std::ios::app) << line << '\n';
    lines_.push_back(std::move(line));
  }
  std::string path_;
  std::vector<std::string> lines_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: conclave-test-recorder <app socket> <output file>\n";
    return 2;
  }
  Recorder recorder(argv[2]);
  conclave::ClientOptions options;
  options.socket_path = argv[1];
  options.name = "recorder";
  options.on_error = [](const conclave::Error& e) { std::cerr << "recorder: " << e.reason() << '\n'; };
  conclave::Client client(recorder, options);
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}
