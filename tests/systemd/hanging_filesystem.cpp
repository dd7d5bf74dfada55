// The filesystem of conclaved_hanging_sync, the test build of sidecar/main.cpp
// (conclaved itself has no such hook): the real one, except that while the
// file named by CONCLAVE_TEST_HANG_SYNC_WHILE exists, every file or
// directory sync blocks, as on a stalled disk. The first sync caught creates
// "<that file>.hung", so a test knows the event loop is now stuck.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "sidecar/storage/file.h"

namespace {

using conclave::storage::File;
using conclave::storage::Filesystem;
using conclave::storage::OpenMode;
using conclave::storage::Result;
using conclave::storage::Status;

// Blocks while `trigger` exists. Bounded, so a test that forgets to remove
// it leaves no process hanging past ten minutes.
void hang_while(const std::string& trigger) {
  if (trigger.empty() || ::access(trigger.c_str(), F_OK) != 0) return;
  std::ofstream(trigger + ".hung") << "a sync is hanging\n";
  for (int i = 0; i < 60000 && ::access(trigger.c_str(), F_OK) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class HangingFile final : public File {
 public:
  HangingFile(std::unique_ptr<File> real, const std::string& trigger) : real_(std::move(real)), trigger_(trigger) {}
  Status write_at(std::uint64_t offset, std::string_view bytes) override { return real_->write_at(offset, bytes); }
  Status read_at(std::uint64_t offset, std::size_t size, std::string& out) override {
    return real_->read_at(offset, size, out);
  }
  Status sync() override {
    hang_while(trigger_);
    return real_->sync();
  }
  Status write_out(std::uint64_t offset, std::uint64_t length) override { return real_->write_out(offset, length); }
  Status truncate(std::uint64_t size) override { return real_->truncate(size); }
  Result<std::uint64_t> size() override { return real_->size(); }
  const std::string& path() const override { return real_->path(); }

 private:
  std::unique_ptr<File> real_;
  const std::string& trigger_;
};

class HangingFilesystem final : public Filesystem {
 public:
  explicit HangingFilesystem(Filesystem& real) : real_(real) {
    const char* trigger = std::getenv("CONCLAVE_TEST_HANG_SYNC_WHILE");
    if (trigger) trigger_ = trigger;
  }
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    auto file = real_.open(path, mode);
    if (!file) return file.error();
    return std::unique_ptr<File>(std::make_unique<HangingFile>(std::move(file).value(), trigger_));
  }
  Status rename(const std::string& from, const std::string& to) override { return real_.rename(from, to); }
  Status remove(const std::string& path) override { return real_.remove(path); }
  Status sync_dir(const std::string& dir) override {
    hang_while(trigger_);
    return real_.sync_dir(dir);
  }
  Status create_dirs(const std::string& dir) override { return real_.create_dirs(dir); }
  Result<std::vector<std::string>> list(const std::string& dir) override { return real_.list(dir); }
  bool exists(const std::string& path) override { return real_.exists(path); }

 private:
  Filesystem& real_;
  std::string trigger_;
};

}  // namespace

conclave::storage::Filesystem& conclave_test_filesystem() {
  static HangingFilesystem filesystem(conclave::storage::posix_filesystem());
  return filesystem;
}
