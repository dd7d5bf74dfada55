#include "probe_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace conclave::bench::probe {

void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

double us_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

double quantile_us(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
}

int zero_filled_scratch(const std::string& dir, const std::string& name, int blocks) {
  const std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open " + path);
  ::unlink(path.c_str());  // removed whatever happens; the fd keeps it alive
  std::vector<char> block(4096, 0);
  for (int i = 0; i < blocks; ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) fail("write " + path);
  }
  if (::fsync(fd) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) fail("fsync " + path);
  return fd;
}

int listen_loopback(sockaddr_in& addr) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) fail("socket");
  addr = sockaddr_in{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || ::listen(listener, 4) != 0) {
    const int saved = errno;
    ::close(listener);
    errno = saved;
    fail("listen on loopback");
  }
  return listener;
}

namespace {

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

int connect_loopback(const sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  set_nodelay(fd);
  return fd;
}

int accept_nodelay(int listener) {
  int fd = ::accept(listener, nullptr, nullptr);
  if (fd >= 0) set_nodelay(fd);
  return fd;
}

}  // namespace conclave::bench::probe
