// The handshake's cryptography and its decision: the challenge nonce, the
// HMAC-SHA256 proof of the cluster secret (OpenSSL), and whether an
// acceptor admits a hello. See the HANDSHAKE section of schema/peer.capnp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sidecar/raft/types.h"

namespace conclave::peer {

inline constexpr std::size_t kNonceBytes = 32;

// A fresh random nonce from OpenSSL's CSPRNG. Throws std::runtime_error if
// the generator fails (nothing sensible can continue without one).
std::string make_nonce();

// HMAC-SHA256(secret, "conclave-peer-v1" || nonce || cluster_id || node id
// as 8 bytes little-endian); empty when the secret is empty.
std::string hello_proof(std::string_view secret, std::string_view nonce,
                        std::string_view cluster_id, raft::NodeId node);
// The acceptor's answer: the same over "conclave-peer-v1-welcome", the
// dialer's nonce and the acceptor's id.
std::string welcome_proof(std::string_view secret, std::string_view nonce,
                          std::string_view cluster_id, raft::NodeId node);

// Constant-time comparison, so a forger learns nothing from timing.
bool proofs_equal(std::string_view expected, std::string_view given);

// What the acceptor knows when it judges a hello.
struct HelloCheck {
  std::uint32_t protocol_version = 0;
  std::string cluster_id;
  raft::NodeId node;
  std::string proof;
  bool joining = false;
};

// Returns the empty string when the hello is admitted, otherwise the reason
// for the refusal, written for the operator reading the dialer's log.
// `accepts_peer` is consulted only for hellos that are not joining.
template <typename AcceptsPeer>
std::string judge_hello(const HelloCheck& hello, std::uint32_t our_version,
                        std::string_view our_cluster, raft::NodeId self, std::string_view secret,
                        std::string_view nonce, AcceptsPeer&& accepts_peer);

std::string judge_hello_without_membership(const HelloCheck& hello, std::uint32_t our_version,
                                           std::string_view our_cluster, raft::NodeId self,
                                           std::string_view secret, std::string_view nonce);

template <typename AcceptsPeer>
std::string judge_hello(const HelloCheck& hello, std::uint32_t our_version,
                        std::string_view our_cluster, raft::NodeId self, std::string_view secret,
                        std::string_view nonce, AcceptsPeer&& accepts_peer) {
  std::string why =
      judge_hello_without_membership(hello, our_version, our_cluster, self, secret, nonce);
  if (!why.empty() || hello.joining) return why;
  if (!accepts_peer(hello.node)) {
    return "node " + std::to_string(hello.node.value()) + " is not a member of cluster '" +
           std::string(our_cluster) + "' as node " + std::to_string(self.value()) +
           " knows it; a new node must join first (start it with the address of a member)";
  }
  return {};
}

}  // namespace conclave::peer
