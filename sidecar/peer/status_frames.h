// The frames of a cluster status question (peer.capnp statusRequest and
// statusResult): a follower asks, the leader answers with its view of every
// member as the admin protocol's Status. Apart from frames.h because the
// answer carries admin.capnp's types, which nothing else in the transport
// needs.
#pragma once

#include <kj/array.h>
#include <capnp/common.h>

#include "schema/peer.capnp.h"
#include "sidecar/peer/transport.h"

namespace conclave::peer {

kj::Array<capnp::word> status_request_frame(const StatusRequest& request);
kj::Array<capnp::word> status_result_frame(const StatusResult& result);

StatusRequest decode_status_request(schema::peer::StatusRequest::Reader in);
StatusResult decode_status_result(schema::peer::StatusResult::Reader in);

}  // namespace conclave::peer
