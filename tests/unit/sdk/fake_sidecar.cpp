// The scripted sidecar of the protocol tests; see fake_sidecar.h.
#include "fake_sidecar.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace conclave::test {

namespace {

constexpr int kWaitMs = 20000;

void wait_readable(int fd, const char* what) {
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, kWaitMs);
  if (n <= 0) throw std::runtime_error(std::string("fake sidecar: nothing to ") + what + " within the bound");
}

}  // namespace

FakeSidecar::FakeSidecar() {
  // A client that went away must fail a write here, not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  std::string tmpl = (std::filesystem::temp_directory_path() / "conclave-sdk-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  path_ = dir_ + "/app.sock";
  listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener_, 4) != 0) {
    throw std::runtime_error("fake sidecar: cannot listen on " + path_ + ": " + std::strerror(errno));
  }
}

FakeSidecar::~FakeSidecar() {
  close_connection();
  if (listener_ >= 0) ::close(listener_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void FakeSidecar::accept() {
  close_connection();
  wait_readable(listener_, "accept");
  connection_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  if (connection_ < 0) throw std::runtime_error(std::string("fake sidecar: accept: ") + std::strerror(errno));
}

void FakeSidecar::close_connection() {
  if (connection_ >= 0) ::close(connection_);
  connection_ = -1;
}

std::unique_ptr<capnp::MessageReader> FakeSidecar::read() {
  for (;;) {
    wait_readable(connection_, "read");
    auto message = std::make_unique<capnp::StreamFdMessageReader>(connection_);
    auto m = message->getRoot<app::ToSidecar>();
    if (m.which() != app::ToSidecar::APPLIED) return message;
    last_applied_ = m.getApplied();
  }
}

void FakeSidecar::wait_applied(std::uint64_t index) {
  while (last_applied_ < index) {
    wait_readable(connection_, "read");
    capnp::StreamFdMessageReader message(connection_);
    auto m = message.getRoot<app::ToSidecar>();
    if (m.which() != app::ToSidecar::APPLIED) throw std::runtime_error("fake sidecar: expected an applied notice");
    last_applied_ = m.getApplied();
  }
}

std::uint64_t FakeSidecar::attach(std::uint64_t commit_index) {
  auto message = read();
  auto m = root(message);
  if (m.which() != app::ToSidecar::ATTACH) throw std::runtime_error("fake sidecar: the first message is not attach");
  capnp::MallocMessageBuilder out;
  auto a = out.initRoot<app::FromSidecar>().initAnswer();
  a.setId(m.getId());
  auto at = a.initAttached();
  at.setVersion(app::K_VERSION);
  at.setNodeId(1);
  at.setClusterId("test-cluster");
  at.setLeader(1);
  at.setCommitIndex(commit_index);
  send(out);
  return m.getAttach().getAppliedIndex();
}

void FakeSidecar::send(capnp::MessageBuilder& message) { capnp::writeMessageToFd(connection_, message); }

void FakeSidecar::answer_committed(std::uint64_t id, std::uint64_t index) {
  capnp::MallocMessageBuilder out;
  auto a = out.initRoot<app::FromSidecar>().initAnswer();
  a.setId(id);
  a.initCommitted().setIndex(index);
  send(out);
}

void FakeSidecar::answers_committed(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& answers) {
  capnp::MallocMessageBuilder out;
  auto list = out.initRoot<app::FromSidecar>().initAnswers(static_cast<unsigned>(answers.size()));
  for (unsigned i = 0; i < answers.size(); ++i) {
    list[i].setId(answers[i].first);
    list[i].initCommitted().setIndex(answers[i].second);
  }
  send(out);
}

void FakeSidecar::answer_read_index(std::uint64_t id, std::uint64_t index) {
  capnp::MallocMessageBuilder out;
  auto a = out.initRoot<app::FromSidecar>().initAnswer();
  a.setId(id);
  a.setReadIndex(index);
  send(out);
}

void FakeSidecar::answer_ok(std::uint64_t id) {
  capnp::MallocMessageBuilder out;
  out.initRoot<app::FromSidecar>().initAnswer().setId(id);
  send(out);
}

void FakeSidecar::answer_error(std::uint64_t id, app::ErrorCode code, const std::string& reason) {
  capnp::MallocMessageBuilder out;
  auto a = out.initRoot<app::FromSidecar>().initAnswer();
  a.setId(id);
  a.setError(code);
  a.setReason(reason);
  send(out);
}

void FakeSidecar::bootstrap() {
  capnp::MallocMessageBuilder out;
  out.initRoot<app::FromSidecar>().setBootstrap();
  send(out);
}

namespace {
capnp::Data::Reader data_of(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}
}  // namespace

void FakeSidecar::entry(std::uint64_t index, std::uint64_t term, const std::string& data) {
  capnp::MallocMessageBuilder out;
  auto e = out.initRoot<app::FromSidecar>().initEntry();
  e.setIndex(index);
  e.setTerm(term);
  e.setData(data_of(data));
  send(out);
}

void FakeSidecar::entries(std::uint64_t term, const std::vector<std::pair<std::uint64_t, std::string>>& entries) {
  capnp::MallocMessageBuilder out;
  auto list = out.initRoot<app::FromSidecar>().initEntries(static_cast<unsigned>(entries.size()));
  for (unsigned i = 0; i < entries.size(); ++i) {
    list[i].setIndex(entries[i].first);
    list[i].setTerm(term);
    list[i].setData(data_of(entries[i].second));
  }
  send(out);
}

void FakeSidecar::arrive(std::uint64_t index, std::uint64_t node, const std::string& address) {
  capnp::MallocMessageBuilder out;
  auto m = out.initRoot<app::FromSidecar>().initArrive();
  m.setIndex(index);
  m.setNode(node);
  m.setAddress(address);
  send(out);
}

void FakeSidecar::acclimated(std::uint64_t index) {
  capnp::MallocMessageBuilder out;
  out.initRoot<app::FromSidecar>().initAcclimated().setIndex(index);
  send(out);
}

void FakeSidecar::join(std::uint64_t index, std::uint64_t bytes) {
  capnp::MallocMessageBuilder out;
  auto j = out.initRoot<app::FromSidecar>().initJoin();
  j.setIndex(index);
  j.setTerm(1);
  j.setBytes(bytes);
  send(out);
}

void FakeSidecar::join_chunk(std::uint64_t offset, const std::string& data, bool done) {
  capnp::MallocMessageBuilder out;
  auto c = out.initRoot<app::FromSidecar>().initJoinChunk();
  c.setOffset(offset);
  c.setData(data_of(data));
  c.setDone(done);
  send(out);
}

void FakeSidecar::snapshot_request(std::uint64_t index) {
  capnp::MallocMessageBuilder out;
  out.initRoot<app::FromSidecar>().initSnapshot().setIndex(index);
  send(out);
}

void FakeSidecar::closing(app::ErrorCode code, const std::string& reason) {
  capnp::MallocMessageBuilder out;
  auto c = out.initRoot<app::FromSidecar>().initClosing();
  c.setError(code);
  c.setReason(reason);
  send(out);
}

}  // namespace conclave::test
