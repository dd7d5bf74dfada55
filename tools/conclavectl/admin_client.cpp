// The admin client: UNIX-socket connect, capnp standard stream framing
// (bounded by schema/framing.h) with a deadline on every read and write, and translation of Responses into
// plain values (see admin_client.h).
#include "tools/conclavectl/admin_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <capnp/message.h>

#include <cerrno>
#include <cstring>

#include "schema/admin.capnp.h"
#include "schema/admin_wire.h"
#include "schema/framing.h"

namespace conclave::admin {

namespace {

namespace wire = conclave::schema::admin;
using Clock = std::chrono::steady_clock;

// A response larger than this is not something a sidecar sends; treating it
// as garbage keeps a confused peer from making us allocate without bound.
constexpr std::size_t kFrameBytesMax = 64u << 20;

std::string errno_text(int err) { return std::strerror(err); }

// Waits until `fd` is ready for `events` or the deadline passes.
// Returns false on timeout; errno-style failures come back as an error text.
Outcome<bool> wait_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return Outcome<bool>::failure("poll failed: " + errno_text(errno));
  }
}

Response response_from_wire(wire::Response::Reader r) {
  Response out;
  out.error = from_wire(r.getError());
  out.reason = r.getReason();
  out.leader_hint = r.getLeaderHint();
  out.leader_address = r.getLeaderAddress();
  switch (r.which()) {
    case wire::Response::STATUS: out.body = from_wire(r.getStatus()); break;
    case wire::Response::COMMITTED: out.body = from_wire(r.getCommitted()); break;
    default: break;
  }
  return out;
}

void fill_request(wire::Request::Builder b, const Request& request) {
  struct Visitor {
    wire::Request::Builder b;
    void operator()(const StatusRequest&) { b.setStatus(); }
    void operator()(const ProposeRequest& p) {
      b.setPropose(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(p.data.data()), p.data.size()));
    }
    void operator()(const AddLearnerRequest& a) {
      auto l = b.initAddLearner();
      l.setNodeId(a.node_id);
      l.setAddress(a.address);
    }
    void operator()(const PromoteRequest& p) { b.setPromote(p.node_id); }
    void operator()(const RemoveRequest& r) { b.setRemove(r.node_id); }
    void operator()(const TransferLeaderRequest& t) { b.setTransferLeader(t.node_id); }
    void operator()(const SnapshotRequest&) { b.setSnapshot(); }
    void operator()(const ClusterStatusRequest&) { b.setClusterStatus(); }
  };
  std::visit(Visitor{b}, request);
}

}  // namespace

std::string Response::describe_error() const {
  std::string text = to_string(error);
  if (!reason.empty()) text += ": " + reason;
  if (leader_hint != 0) {
    text += " (leader is node " + std::to_string(leader_hint);
    if (!leader_address.empty()) text += " at " + leader_address;
    text += ")";
  }
  return text;
}

Outcome<AdminClient> AdminClient::connect(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return Outcome<AdminClient>::failure("admin socket path " + socket_path + " is longer than " +
                                         std::to_string(sizeof(addr.sun_path) - 1) +
                                         " bytes, which UNIX sockets cannot use: choose a shorter --admin-socket");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Outcome<AdminClient>::failure("cannot create a UNIX socket: " + errno_text(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return Outcome<AdminClient>::failure("no sidecar listening at " + socket_path +
                                           ": is conclaved running with --admin-socket " + socket_path + "?");
    }
    if (err == EACCES || err == EPERM) {
      return Outcome<AdminClient>::failure("permission denied on " + socket_path +
                                           ": run as the sidecar's user or a member of its group");
    }
    return Outcome<AdminClient>::failure("cannot connect to " + socket_path + ": " + errno_text(err));
  }
  return AdminClient(fd, socket_path);
}

AdminClient::~AdminClient() { close(); }

AdminClient::AdminClient(AdminClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), next_id_(other.next_id_) {}

AdminClient& AdminClient::operator=(AdminClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    next_id_ = other.next_id_;
  }
  return *this;
}

void AdminClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Outcome<Response> AdminClient::call(const Request& request, std::chrono::milliseconds timeout) {
  using Fail = Outcome<Response>;
  if (fd_ < 0) return Fail::failure("the connection to " + path_ + " was closed after an earlier error");
  const auto deadline = Clock::now() + timeout;
  const std::uint64_t id = next_id_++;
  const std::string no_answer = "no answer from the sidecar at " + path_ + " within " +
                                std::to_string(timeout.count()) +
                                " ms: it may be busy or hung; see its log, or retry with a longer --timeout-ms";

  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::Request>();
  root.setId(id);
  fill_request(root, request);
  auto request_frame = framing::encode_frame(builder);
  auto bytes = request_frame.asBytes();
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto ready = wait_ready(fd_, POLLOUT, deadline);
    if (!ready) return Fail::failure(ready.error());
    if (!ready.value()) return Fail::failure(no_answer);
    ssize_t n = ::send(fd_, bytes.begin() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      int err = errno;
      close();
      return Fail::failure("the sidecar at " + path_ + " closed the connection (" + errno_text(err) +
                           "): is it shutting down? see its log");
    }
    sent += static_cast<std::size_t>(n);
  }

  // Reads exactly `size` bytes into `out`, within the deadline.
  auto read_exact = [&](void* out, std::size_t size) -> Outcome<bool> {
    auto* p = static_cast<char*>(out);
    std::size_t got = 0;
    while (got < size) {
      auto ready = wait_ready(fd_, POLLIN, deadline);
      if (!ready) return ready;
      if (!ready.value()) return Outcome<bool>::failure(no_answer);
      ssize_t n = ::read(fd_, p + got, size - got);
      if (n == 0) {
        return Outcome<bool>::failure("the sidecar at " + path_ +
                                      " closed the connection without answering: is it shutting down? see its log");
      }
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Outcome<bool>::failure("reading from " + path_ + " failed: " + errno_text(errno));
      }
      got += static_cast<std::size_t>(n);
    }
    return true;
  };

  // Responses may come in any order; with one request in flight, anything
  // but ours or a connection-level error (id 0) is skipped.
  for (;;) {
    // The framing's own bounds (schema/framing.h) before anything is
    // allocated: the first word, the rest of the table, then the frame.
    auto refuse = [&](const std::string& why) {
      close();
      return Fail::failure("the sidecar at " + path_ + " sent a frame this client refuses (" + why +
                           "): is something else listening on that socket?");
    };
    unsigned char first[sizeof(capnp::word)];
    if (auto r = read_exact(first, sizeof first); !r) { close(); return Fail::failure(r.error()); }
    std::string why;
    const std::size_t table_words = framing::segment_table_words(first, why);
    if (table_words == 0) return refuse(why);
    auto table = kj::heapArray<capnp::word>(table_words);
    std::memcpy(table.begin(), first, sizeof first);
    if (auto r = read_exact(table.begin() + 1, (table_words - 1) * sizeof(capnp::word)); !r) {
      close();
      return Fail::failure(r.error());
    }
    const std::size_t total_words = framing::frame_words(table.asBytes().begin(), table_words, kFrameBytesMax, why);
    if (total_words == 0) return refuse(why);
    auto words = kj::heapArray<capnp::word>(total_words);
    std::memcpy(words.begin(), table.begin(), table_words * sizeof(capnp::word));
    if (auto r = read_exact(words.begin() + table_words, (total_words - table_words) * sizeof(capnp::word)); !r) {
      close();
      return Fail::failure(r.error());
    }
    try {
      framing::InboundFrame frame(std::move(words), framing::frame_reader_options(kFrameBytesMax));
      auto response = frame.root<wire::Response>();
      if (response.getId() != id && response.getId() != 0) continue;
      return response_from_wire(response);
    } catch (const kj::Exception& e) {
      close();
      return Fail::failure("the sidecar at " + path_ + " sent a response this client cannot read (" +
                           std::string(e.getDescription().cStr()) + "): are conclavectl and conclaved the same version?");
    }
  }
}

Outcome<Response> call_once(const std::string& socket_path, const Request& request,
                            std::chrono::milliseconds timeout) {
  auto client = AdminClient::connect(socket_path);
  if (!client) return Outcome<Response>::failure(client.error());
  return client->call(request, timeout);
}

}  // namespace conclave::admin
