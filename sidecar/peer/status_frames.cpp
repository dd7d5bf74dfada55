// Encoding and decoding the cluster status frames. See status_frames.h.
#include "sidecar/peer/status_frames.h"

#include "schema/admin_wire.h"
#include "schema/framing.h"

namespace conclave::peer {

kj::Array<capnp::word> status_request_frame(const StatusRequest& request) {
  capnp::MallocMessageBuilder message;
  message.initRoot<schema::peer::Frame>().initStatusRequest().setRequestId(request.request_id);
  return framing::encode_frame(message);
}

kj::Array<capnp::word> status_result_frame(const StatusResult& result) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<schema::peer::Frame>().initStatusResult();
  out.setRequestId(result.request_id);
  out.setError(result.error);
  out.setLeaderHint(result.leader_hint.value());
  if (result.error.empty()) admin::to_wire(result.status, out.initStatus());
  return framing::encode_frame(message);
}

StatusRequest decode_status_request(schema::peer::StatusRequest::Reader in) {
  return StatusRequest{in.getRequestId()};
}

StatusResult decode_status_result(schema::peer::StatusResult::Reader in) {
  StatusResult result;
  result.request_id = in.getRequestId();
  result.error = in.getError().cStr();
  result.leader_hint = raft::NodeId(in.getLeaderHint());
  if (!result.error.empty()) return result;
  if (!in.hasStatus()) {
    result.error = "its answer carried no status";
  } else {
    result.status = admin::from_wire(in.getStatus());
  }
  return result;
}

}  // namespace conclave::peer
