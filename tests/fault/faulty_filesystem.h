// A Filesystem that passes every call to the real one until told to fail:
// the Nth fdatasync, or any write once a byte budget is spent, returns EIO
// or ENOSPC; or a sync can be held back. This is the seam production code already goes through, so the
// code under test is exactly the code that runs.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "sidecar/storage/file.h"

namespace conclave::storage::testing {

struct FaultPlan {
  // Syncs (file or directory) that succeed before every later one fails.
  std::atomic<long> syncs_left{-1};  // -1: never fail
  int sync_errno = EIO;
  // Bytes that may still be written before writes fail (the failing write
  // writes what fits first, as a filling disk does).
  std::atomic<long long> write_bytes_left{-1};
  int write_errno = ENOSPC;
  std::atomic<long> failures{0};
  // While set, a file sync waits (up to a bound that only keeps a host
  // that syncs on its event loop from hanging) before it syncs; each
  // finished sync is counted, so a test can tell what was durable when a
  // message left.
  std::atomic<bool> hold_syncs{false};
  std::atomic<long> syncs_started{0};
  std::atomic<long> syncs_finished{0};
  // If set, only syncs of files whose path contains it are held; how many
  // are waiting right now.
  std::atomic<const char*> hold_syncs_of{nullptr};
  std::atomic<long> syncs_held_now{0};
  // Likewise for file removals (unlink); on_remove, if set before the
  // files are used, sees each path first. A non-zero remove_errno fails them.
  std::atomic<bool> hold_removals{false};
  std::atomic<long> removals_started{0};
  std::atomic<long> removals_finished{0};
  std::atomic<int> remove_errno{0};
  std::function<void(const std::string&)> on_remove;
  // If set before the files are used, sees each truncation (path, new size).
  std::function<void(const std::string&, std::uint64_t)> on_truncate;

  bool take_sync() {
    long left = syncs_left.load();
    while (left >= 0) {
      if (left == 0) {
        ++failures;
        return false;
      }
      if (syncs_left.compare_exchange_weak(left, left - 1)) return true;
    }
    return true;
  }
};

class FaultyFile final : public File {
 public:
  FaultyFile(std::unique_ptr<File> real, FaultPlan& plan) : real_(std::move(real)), plan_(plan) {}
  Status write_at(std::uint64_t offset, std::string_view bytes) override {
    long long left = plan_.write_bytes_left.load();
    if (left >= 0) {
      if (static_cast<long long>(bytes.size()) > left) {
        plan_.write_bytes_left = 0;
        ++plan_.failures;
        if (left > 0) (void)real_->write_at(offset, bytes.substr(0, static_cast<std::size_t>(left)));
        return errno_error(plan_.write_errno, "pwrite", path());
      }
      plan_.write_bytes_left -= static_cast<long long>(bytes.size());
    }
    return real_->write_at(offset, bytes);
  }
  Status read_at(std::uint64_t offset, std::size_t size, std::string& out) override {
    return real_->read_at(offset, size, out);
  }
  Status sync() override {
    ++plan_.syncs_started;
    const char* only = plan_.hold_syncs_of.load();
    if (only == nullptr || path().find(only) != std::string::npos) {
      const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      ++plan_.syncs_held_now;
      while (plan_.hold_syncs.load() && std::chrono::steady_clock::now() < bound) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      --plan_.syncs_held_now;
    }
    if (!plan_.take_sync()) return errno_error(plan_.sync_errno, "fdatasync", path());
    Status s = real_->sync();
    ++plan_.syncs_finished;
    return s;
  }
  Status write_out(std::uint64_t offset, std::uint64_t length) override { return real_->write_out(offset, length); }
  Status truncate(std::uint64_t size) override {
    if (plan_.on_truncate) plan_.on_truncate(path(), size);
    return real_->truncate(size);
  }
  Result<std::uint64_t> size() override { return real_->size(); }
  const std::string& path() const override { return real_->path(); }

 private:
  std::unique_ptr<File> real_;
  FaultPlan& plan_;
};

class FaultyFilesystem final : public Filesystem {
 public:
  explicit FaultyFilesystem(FaultPlan& plan) : plan_(plan) {}
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    auto file = real_.open(path, mode);
    if (!file) return file.error();
    return std::unique_ptr<File>(std::make_unique<FaultyFile>(std::move(file).value(), plan_));
  }
  Status rename(const std::string& from, const std::string& to) override { return real_.rename(from, to); }
  Status remove(const std::string& path) override {
    if (plan_.on_remove) plan_.on_remove(path);
    ++plan_.removals_started;
    const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (plan_.hold_removals.load() && std::chrono::steady_clock::now() < bound) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Status s = plan_.remove_errno != 0 ? errno_error(plan_.remove_errno, "unlink", path) : real_.remove(path);
    ++plan_.removals_finished;
    return s;
  }
  Status sync_dir(const std::string& dir) override {
    if (!plan_.take_sync()) return errno_error(plan_.sync_errno, "fsync", dir);
    return real_.sync_dir(dir);
  }
  Status create_dirs(const std::string& dir) override { return real_.create_dirs(dir); }
  Result<std::vector<std::string>> list(const std::string& dir) override { return real_.list(dir); }
  bool exists(const std::string& path) override { return real_.exists(path); }

 private:
  PosixFilesystem real_;
  FaultPlan& plan_;
};

}  // namespace conclave::storage::testing
