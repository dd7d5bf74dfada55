// A minimal sidecar for protocol tests of the real Client: a UNIX socket
// server on the test's thread that speaks schema/app.capnp with Cap'n Proto
// directly, one blocking step at a time, so a test scripts both sides of
// the conversation. Every wait is bounded (a stuck client fails the test
// instead of hanging it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "schema/app.capnp.h"

namespace conclave::test {

namespace app = conclave::schema::app;

class FakeSidecar {
 public:
  FakeSidecar();
  ~FakeSidecar();
  const std::string& path() const { return path_; }

  // Waits for the client to connect.
  void accept();
  // Closes the accepted connection (the client sees the sidecar go away).
  void close_connection();

  // The next message from the client, skipping `applied` notices (the last
  // one seen is kept in last_applied()).
  std::unique_ptr<capnp::MessageReader> read();
  app::ToSidecar::Reader root(const std::unique_ptr<capnp::MessageReader>& m) {
    return m->getRoot<app::ToSidecar>();
  }
  // Reads until an `applied` notice of at least `index` arrives.
  void wait_applied(std::uint64_t index);
  std::uint64_t last_applied() const { return last_applied_; }

  // Reads the attach and answers it; returns the attach's appliedIndex.
  std::uint64_t attach(std::uint64_t commit_index = 0);

  void send(capnp::MessageBuilder& message);
  void answer_committed(std::uint64_t id, std::uint64_t index);
  // One `answers` frame: (id, committed index) pairs.
  void answers_committed(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& answers);
  void answer_read_index(std::uint64_t id, std::uint64_t index);
  void answer_ok(std::uint64_t id);
  void answer_error(std::uint64_t id, app::ErrorCode code, const std::string& reason);
  void bootstrap();
  void entry(std::uint64_t index, std::uint64_t term, const std::string& data);
  // One `entries` frame: (index, data) pairs, all of `term`.
  void entries(std::uint64_t term, const std::vector<std::pair<std::uint64_t, std::string>>& entries);
  void arrive(std::uint64_t index, std::uint64_t node, const std::string& address);
  void acclimated(std::uint64_t index);
  void join(std::uint64_t index, std::uint64_t bytes);
  void join_chunk(std::uint64_t offset, const std::string& data, bool done);
  void snapshot_request(std::uint64_t index);
  void closing(app::ErrorCode code, const std::string& reason);

 private:
  std::string dir_;
  std::string path_;
  int listener_ = -1;
  int connection_ = -1;
  std::uint64_t last_applied_ = 0;
};

}  // namespace conclave::test
