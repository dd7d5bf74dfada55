// The handshake's proof (OpenSSL HMAC-SHA256) and the acceptor's judgement.
#include "sidecar/peer/handshake.h"

#include <stdexcept>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace conclave::peer {

std::string make_nonce() {
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) !=
      1) {
    throw std::runtime_error("peer: OpenSSL could not generate a handshake nonce");
  }
  return nonce;
}

namespace {

// The label keeps a hello's proof from ever passing for a welcome's.
std::string proof(std::string_view label, std::string_view secret, std::string_view nonce,
                  std::string_view cluster_id, raft::NodeId node) {
  if (secret.empty()) return {};
  std::string input(label);
  input.append(nonce);
  input.append(cluster_id);
  std::uint64_t id = node.value();
  for (int i = 0; i < 8; ++i) input.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
           &out_len) == nullptr) {
    throw std::runtime_error("peer: OpenSSL could not compute the handshake HMAC");
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

}  // namespace

std::string hello_proof(std::string_view secret, std::string_view nonce,
                        std::string_view cluster_id, raft::NodeId node) {
  return proof("conclave-peer-v1", secret, nonce, cluster_id, node);
}

std::string welcome_proof(std::string_view secret, std::string_view nonce,
                          std::string_view cluster_id, raft::NodeId node) {
  return proof("conclave-peer-v1-welcome", secret, nonce, cluster_id, node);
}

bool proofs_equal(std::string_view expected, std::string_view given) {
  // The length of an HMAC-SHA256 is public; only the content is compared in
  // constant time.
  if (expected.size() != given.size()) return false;
  return CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

std::string judge_hello_without_membership(const HelloCheck& hello, std::uint32_t our_version,
                                           std::string_view our_cluster, raft::NodeId self,
                                           std::string_view secret, std::string_view nonce) {
  if (hello.protocol_version != our_version) {
    return fmt::format(
        "protocol version {} is not supported by node {} (it speaks version {}); run the same "
        "conclave release on every node",
        hello.protocol_version, self.value(), our_version);
  }
  if (hello.cluster_id != our_cluster) {
    return fmt::format(
        "cluster id '{}' does not match node {}'s cluster '{}'; check cluster_id in the config "
        "and the peer addresses",
        hello.cluster_id, self.value(), our_cluster);
  }
  if (hello.node == raft::kNoNode && !hello.joining) {
    return "node id 0 is reserved; give every node an id of 1 or more";
  }
  if (hello.node == self) {
    return fmt::format("node id {} is this node's own id; every node needs a distinct id",
                       self.value());
  }
  if (!secret.empty() &&
      !proofs_equal(hello_proof(secret, nonce, hello.cluster_id, hello.node), hello.proof)) {
    return fmt::format(
        "wrong cluster secret proof from node {}; give every node the same cluster_secret",
        hello.node.value());
  }
  return {};
}

}  // namespace conclave::peer
