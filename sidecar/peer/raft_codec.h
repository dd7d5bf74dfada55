// Conversion between the Raft core's vocabulary (raft::Message, Entry,
// SnapshotMeta, Configuration) and their peer.capnp forms. Decoding validates:
// an unknown enum value, an entry at index 0 or an absurd size is refused
// with a reason, never passed to the core. Checks that need the connection's
// context (from/to against the handshake) are the connection's.
#pragma once

#include <optional>
#include <string>

#include "schema/peer.capnp.h"
#include "sidecar/raft/message.h"
#include "sidecar/raft/types.h"

namespace conclave::peer {

// A decoded value, or why the bytes were refused.
template <typename T>
struct Decoded {
  std::optional<T> value;
  std::string error;
  explicit operator bool() const { return value.has_value(); }
};

// Bounds beyond which a field is absurd rather than merely large. The frame
// size bound limits the total; these catch nonsense inside an allowed frame.
inline constexpr std::size_t kConfigMembersMax = 1024;
inline constexpr std::size_t kAddressBytesMax = 1024;

void encode_configuration(const raft::Configuration& config,
                          schema::peer::Configuration::Builder out);
Decoded<raft::Configuration> decode_configuration(schema::peer::Configuration::Reader in);

void encode_snapshot_meta(const raft::SnapshotMeta& meta, schema::peer::SnapshotMeta::Builder out);
Decoded<raft::SnapshotMeta> decode_snapshot_meta(schema::peer::SnapshotMeta::Reader in);

void encode_raft_message(const raft::Message& message, schema::peer::RaftMessage::Builder out);
// May throw kj::Exception on a structurally broken message; callers catch it
// with every other decoding failure of the frame.
Decoded<raft::Message> decode_raft_message(schema::peer::RaftMessage::Reader in);

}  // namespace conclave::peer
