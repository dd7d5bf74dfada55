// journald's side of its native protocol, played by a test: a datagram
// socket bound at node::kJournalSocket, where sd_journal_send(3) always
// writes. Only where no journald runs (a build machine, a container) and the
// test may create it (root); removed afterwards with whatever directories it
// made. Tests skip with why_not() when it cannot stand in.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sidecar/node/journal_sink.h"

namespace conclave::test_support {

class StandInJournald {
 public:
  StandInJournald() {
    namespace fs = std::filesystem;
    const fs::path socket_path(node::kJournalSocket);
    std::error_code ec;
    if (fs::exists(socket_path, ec)) {
      why_not_ = "a journald (or another test's stand-in) listens here already";
      return;
    }
    std::vector<fs::path> missing;
    for (fs::path dir = socket_path.parent_path(); !fs::exists(dir, ec); dir = dir.parent_path()) {
      missing.insert(missing.begin(), dir);
    }
    // Only what this test made is removed afterwards.
    for (const auto& dir : missing) {
      if (!fs::create_directory(dir, ec)) {
        why_not_ = "cannot create " + dir.string() + " (not root?)";
        return;
      }
      created_.push_back(dir);
    }
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, node::kJournalSocket, sizeof(addr.sun_path) - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      why_not_ = std::string("cannot bind ") + node::kJournalSocket + ": " + std::strerror(errno);
      return;
    }
    bound_ = true;
  }
  ~StandInJournald() {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ec;
    if (bound_) std::filesystem::remove(node::kJournalSocket, ec);
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) std::filesystem::remove(*it, ec);
  }
  StandInJournald(const StandInJournald&) = delete;
  StandInJournald& operator=(const StandInJournald&) = delete;

  bool bound() const { return bound_; }
  const std::string& why_not() const { return why_not_; }

  // The next entry's fields (KEY=value lines), or empty after `patience`.
  std::string next_entry(std::chrono::milliseconds patience = std::chrono::seconds(1)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(patience.count())) != 1) return {};
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

  // Waits up to `patience` for an entry holding `line` among its fields.
  std::string wait_for_entry_with(const std::string& line, std::chrono::seconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string entry = next_entry(std::chrono::milliseconds(100));
      if (!entry.empty() && ("\n" + entry).find("\n" + line) != std::string::npos) return entry;
    }
    return {};
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::string why_not_;
  std::vector<std::filesystem::path> created_;
};

}  // namespace conclave::test_support
