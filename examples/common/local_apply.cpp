// See local_apply.h.
#include "local_apply.h"

namespace conclave::examples {

Index commit_and_apply(Client& client, std::string data, std::chrono::milliseconds timeout) {
  Index index = client.propose(std::move(data)).get();
  if (!client.wait_applied(index, timeout)) {
    throw Error(ErrorCode::timeout, "committed at " + std::to_string(index) + " but not applied here in time");
  }
  return index;
}

void catch_up_for_read(Client& client, std::chrono::milliseconds timeout) {
  Index read_index = client.barrier().get();
  if (!client.wait_applied(read_index, timeout)) {
    throw Error(ErrorCode::timeout, "this node did not catch up to the read index " + std::to_string(read_index));
  }
}

HttpAnswer answer_for(const Error& e) {
  // The cluster could not serve it now (no leader, timeout, restart): the
  // client may retry. Anything else is this node's problem.
  bool retry_later = e.code() == ErrorCode::timeout || e.code() == ErrorCode::no_leader ||
                     e.code() == ErrorCode::disconnected || e.code() == ErrorCode::shutting_down;
  return HttpAnswer{retry_later ? 503u : 500u, std::string(e.what()) + "\n"};
}

}  // namespace conclave::examples
