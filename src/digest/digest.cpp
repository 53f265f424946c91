// Hasher and digest_hex (digest.hpp) on OpenSSL's EVP interface.
#include "minify/digest.hpp"

#include <openssl/evp.h>

namespace minify {

namespace {

const EVP_MD* algorithm(DigestKind kind) {
  switch (kind) {
    case DigestKind::Sha256: return EVP_sha256();
    case DigestKind::Sha1: return EVP_sha1();
  }
  return EVP_sha256();
}

std::string to_hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}

}  // namespace

struct Hasher::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Hasher::Hasher(DigestKind kind) : ctx_(std::make_unique<Ctx>()) { EVP_DigestInit_ex(ctx_->md, algorithm(kind), nullptr); }
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t size) { EVP_DigestUpdate(ctx_->md, data, size); }

std::string Hasher::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, md, &len);
  return to_hex(md, len);
}

std::string digest_hex(DigestKind kind, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, algorithm(kind), nullptr);
  return to_hex(md, len);
}

}  // namespace minify
