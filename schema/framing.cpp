// The bounds of the stream framing: segment-table arithmetic, reader options
// and encoding. See framing.h.
#include "schema/framing.h"

#include <algorithm>
#include <memory>

namespace conclave::framing {
namespace {

// The wire is little-endian whatever the host is.
std::uint32_t load_le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// Words of the scratch first segment at least: capnp's suggested first
// segment, which holds every message but AppendEntries, batches and
// snapshot chunks whole. A builder asked for more grows it, up to
// kScratchWordsMax (4 MiB); larger messages allocate their own.
constexpr std::size_t kScratchWords = capnp::SUGGESTED_FIRST_SEGMENT_WORDS;
constexpr std::size_t kScratchWordsMax = std::size_t{1} << 19;

struct Scratch {
  // Zeroed, as MallocMessageBuilder requires; it zeroes what it used again.
  std::unique_ptr<capnp::word[]> words{new capnp::word[kScratchWords]()};
  std::size_t size = kScratchWords;
  bool in_use = false;

  // Large enough for `wanted` words: a fresh zeroed array when it must
  // grow (rarely: it keeps the largest size asked for).
  void reserve(std::size_t wanted) {
    if (wanted <= size) return;
    words.reset(new capnp::word[wanted]());
    size = wanted;
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

FrameBuilder::FrameBuilder(std::size_t first_segment_words)
    : scratch_(!scratch().in_use && first_segment_words <= kScratchWordsMax) {
  if (scratch_) {
    Scratch& s = scratch();
    s.in_use = true;
    s.reserve(first_segment_words);
    message_.emplace(kj::arrayPtr(s.words.get(), s.size));
  } else {
    message_.emplace(static_cast<capnp::uint>(std::max(first_segment_words, kScratchWords)));
  }
}

FrameBuilder::~FrameBuilder() {
  message_.reset();
  if (scratch_) scratch().in_use = false;
}

capnp::ReaderOptions frame_reader_options(std::size_t frame_bytes_max) {
  capnp::ReaderOptions options;
  const std::uint64_t words = frame_bytes_max / sizeof(capnp::word);
  options.traversalLimitInWords = std::max<std::uint64_t>(words * 2, 1u << 20);
  options.nestingLimit = 64;
  return options;
}

std::size_t segment_table_words(const unsigned char* first_word, std::string& error) {
  const std::uint64_t segments = std::uint64_t{load_le32(first_word)} + 1;
  if (segments > kFrameSegmentsMax) {
    error = "frame claims " + std::to_string(segments) + " segments (at most " + std::to_string(kFrameSegmentsMax) +
            " allowed)";
    return 0;
  }
  // One u32 for the count and one per segment, padded to whole words.
  return static_cast<std::size_t>((segments + 2) / 2);
}

std::size_t frame_words(const unsigned char* table, std::size_t table_words, std::size_t frame_bytes_max,
                        std::string& error) {
  const std::uint64_t segments = std::uint64_t{load_le32(table)} + 1;
  std::uint64_t total = table_words;
  for (std::uint64_t i = 0; i < segments; ++i) total += load_le32(table + 4 + 4 * i);
  // total cannot overflow: at most 512 sizes below 2^32 each.
  if (total * sizeof(capnp::word) > frame_bytes_max) {
    error = "frame of " + std::to_string(total * sizeof(capnp::word)) + " bytes exceeds the limit of " +
            std::to_string(frame_bytes_max) + " bytes (frame_bytes_max)";
    return 0;
  }
  if (total == table_words) {
    error = "frame has no content";
    return 0;
  }
  return static_cast<std::size_t>(total);
}

kj::Array<capnp::word> encode_frame(capnp::MessageBuilder& message) { return capnp::messageToFlatArray(message); }

}  // namespace conclave::framing
