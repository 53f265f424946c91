// The shared digests against the published test vectors (FIPS 180-2 "abc" and the empty
// message), in one call and fed in pieces.
#include <gtest/gtest.h>

#include "minify/digest.hpp"

namespace minify {
namespace {

TEST(Digest, KnownVectors) {
  EXPECT_EQ(digest_hex(DigestKind::Sha256, "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_hex(DigestKind::Sha256, ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest_hex(DigestKind::Sha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Digest, PiecesGiveTheSameDigest) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Hasher h;
  for (size_t at = 0; at < data.size(); at += 4093) h.update(std::string_view(data).substr(at, 4093));
  EXPECT_EQ(h.hex(), digest_hex(DigestKind::Sha256, data));
  Hasher moved = Hasher(DigestKind::Sha1);
  moved.update("abc");
  EXPECT_EQ(moved.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

}  // namespace
}  // namespace minify
