// SHA-256 and SHA-1 as lowercase hex, with OpenSSL's libcrypto: one implementation for
// report.json's file hashes, the SBOM's file hashes and the OCI writer's content digests.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace minify {

enum class DigestKind { Sha256, Sha1 };

// Incremental hashing: update() with the bytes in order, then hex() once.
class Hasher {
 public:
  explicit Hasher(DigestKind kind = DigestKind::Sha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The digest of everything fed so far, as lowercase hex ("e3b0c442..."). Requires: called once.
  std::string hex();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// The digest of `data` in one call, as lowercase hex.
std::string digest_hex(DigestKind kind, std::string_view data);

}  // namespace minify
