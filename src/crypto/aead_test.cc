// SPDX-License-Identifier: Apache-2.0
#include "crypto/aead.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "crypto/kdf.h"
#include "crypto/login.h"
#include "crypto/random.h"

namespace halley::crypto {
namespace {

Bytes Hex(std::string_view hex) {
  auto b = HexDecode(hex);
  HALLEY_CHECK(b.has_value());
  return *b;
}

TEST(WrapTest, RoundTripAndFormat) {
  const Bytes r_key = RandomBytes(24);
  const Bytes secret = RandomBytes(16);
  const Bytes wrapped = WrapSecret(r_key, "vault-ekey/1", secret);
  ASSERT_EQ(wrapped.size(), kWrapOverhead + secret.size());
  EXPECT_EQ(wrapped[0], 0x01);
  auto unwrapped = UnwrapSecret(r_key, "vault-ekey/1", wrapped);
  ASSERT_TRUE(unwrapped) << unwrapped.error().Message();
  EXPECT_EQ(*unwrapped, secret);
  EXPECT_NE(WrapSecret(r_key, "vault-ekey/1", secret), wrapped) << "fresh nonce";

  const Bytes empty_wrapped = WrapSecret(r_key, "", {});
  ASSERT_EQ(empty_wrapped.size(), kWrapOverhead);
  auto empty = UnwrapSecret(r_key, "", empty_wrapped);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

// Made with Python's `cryptography` (HKDF, AESGCM), independent of this code:
//   info = b'halley/wrap/v1/vault-ekey/0123'
//   k = HKDF(SHA256(), 32, salt=b'', info=info).derive(bytes(range(1, 25)))
//   nonce = bytes(range(0xa0, 0xac))
//   secret = bytes.fromhex('00112233445566778899aabbccddeeff')
//   wrapped = b'\x01' + nonce + AESGCM(k).encrypt(nonce, secret, b'vault-ekey/0123')
TEST(WrapTest, KnownAnswer) {
  Bytes r_key(24);
  for (size_t i = 0; i < r_key.size(); ++i) r_key[i] = static_cast<uint8_t>(i + 1);
  const Bytes golden = Hex(
      "01a0a1a2a3a4a5a6a7a8a9aaab88aaa6a53c660d8623522e2abb06fa4549d96c932e1f82295e3c0da878fcd6a3");
  auto secret = UnwrapSecret(r_key, "vault-ekey/0123", golden);
  ASSERT_TRUE(secret) << secret.error().Message();
  EXPECT_EQ(HexEncode(*secret), "00112233445566778899aabbccddeeff");
}

TEST(WrapTest, RejectsWrongKeyPurposeAndTampering) {
  const Bytes r_key = RandomBytes(24);
  const Bytes secret = RandomBytes(16);
  const Bytes wrapped = WrapSecret(r_key, "bucket-psk/7", secret);
  auto expect = [&](ByteView key, std::string_view purpose, const Bytes& data, ErrorCode code) {
    auto r = UnwrapSecret(key, purpose, data);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().Code(), code) << r.error().Message();
  };
  Bytes other_key = r_key;
  other_key[23] ^= 1;
  expect(other_key, "bucket-psk/7", wrapped, ErrorCode::kUnauthenticated);
  expect(r_key, "bucket-psk/8", wrapped, ErrorCode::kUnauthenticated);
  expect(r_key, "", wrapped, ErrorCode::kUnauthenticated);
  for (size_t pos = 1; pos < wrapped.size(); ++pos) {  // nonce, ciphertext and tag
    Bytes bad = wrapped;
    bad[pos] ^= 0x10;
    expect(r_key, "bucket-psk/7", bad, ErrorCode::kUnauthenticated);
  }
  Bytes longer = wrapped;
  longer.push_back(0);
  expect(r_key, "bucket-psk/7", longer, ErrorCode::kUnauthenticated);
  Bytes bad_version = wrapped;
  bad_version[0] = 0x02;
  expect(r_key, "bucket-psk/7", bad_version, ErrorCode::kCorruption);
  expect(r_key, "bucket-psk/7", Bytes(wrapped.begin(), wrapped.begin() + kWrapOverhead - 1),
         ErrorCode::kCorruption);
  expect(r_key, "bucket-psk/7", {}, ErrorCode::kCorruption);
}

TEST(WrapTest, WorksWithLoginR) {
  const LoginKeys keys = DeriveLoginKeys("carol", "pw");
  const Bytes psk = RandomBytes(16);
  auto back = UnwrapSecret(keys.r, "bucket-psk/x", WrapSecret(keys.r, "bucket-psk/x", psk));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, psk);
  EXPECT_FALSE(UnwrapSecret(keys.l, "bucket-psk/x", WrapSecret(keys.r, "bucket-psk/x", psk)))
      << "the key the server sees (L) cannot unwrap";
}

}  // namespace
}  // namespace halley::crypto
