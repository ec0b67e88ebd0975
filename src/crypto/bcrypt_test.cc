// SPDX-License-Identifier: Apache-2.0
#include "crypto/bcrypt.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <string>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace halley::crypto {
namespace {

TEST(BcryptTest, HashAndVerify) {
  auto hash = BcryptHash("hunter2");  // default cost 10
  ASSERT_TRUE(hash) << hash.error().Message();
  EXPECT_TRUE(hash->starts_with("$2b$10$")) << *hash;
  EXPECT_EQ(hash->size(), 60u);
  EXPECT_TRUE(BcryptVerify("hunter2", *hash));
  EXPECT_FALSE(BcryptVerify("hunter3", *hash));
  EXPECT_FALSE(BcryptVerify("", *hash));

  auto again = BcryptHash("hunter2", 4);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->starts_with("$2b$04$"));
  EXPECT_NE(again->substr(7, 22), hash->substr(7, 22)) << "salts are random";
}

// From the test suites of Openwall's crypt_blowfish (wrapper.c), which libxcrypt inherits.
TEST(BcryptTest, KnownVectors) {
  EXPECT_TRUE(BcryptVerify("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_TRUE(BcryptVerify("U*U*", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"));
  EXPECT_TRUE(
      BcryptVerify("U*U*U", "$2b$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"));
  EXPECT_TRUE(BcryptVerify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(BcryptVerify("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeX"));
  // "...chars after 72 are ignored": the vector's secret is 96 bytes; its first 72 verify.
  const std::string long_secret =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are "
      "ignored";
  const char* long_hash = "$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";
  EXPECT_TRUE(BcryptVerify(long_secret.substr(0, 72), long_hash));
  EXPECT_FALSE(BcryptVerify(long_secret, long_hash)) << "over 72 bytes is refused, not truncated";
}

TEST(BcryptTest, RejectsBadSecretsAndCosts) {
  EXPECT_EQ(BcryptHash(std::string("a\0b", 3), 4).error().Code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BcryptHash(std::string(73, 'x'), 4).error().Code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(BcryptHash(std::string(72, 'x'), 4));
  EXPECT_TRUE(BcryptHash("", 4));
  EXPECT_EQ(BcryptHash("x", 3).error().Code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BcryptHash("x", 32).error().Code(), ErrorCode::kInvalidArgument);
}

TEST(BcryptTest, VerifyRejectsMalformedHashes) {
  const std::string good = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
  ASSERT_TRUE(BcryptVerify("U*U", good));
  EXPECT_FALSE(BcryptVerify("U*U", ""));
  EXPECT_FALSE(BcryptVerify("U*U", good.substr(0, 59)));
  EXPECT_FALSE(BcryptVerify("U*U", good + "x"));
  EXPECT_FALSE(BcryptVerify("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC."));  // a bare setting
  EXPECT_FALSE(BcryptVerify("U*U", "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(BcryptVerify("U*U", "$6$saltsalt$" + std::string(48, 'a')));
  EXPECT_FALSE(BcryptVerify("U*U", "$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(BcryptVerify(std::string("U*U\0", 4), good));
}

TEST(BcryptSha512Test, RoundTripAnyBytes) {
  static constexpr char kSecret[] =
      "\0\xff long binary secret that is well over seventy-two bytes long, which plain bcrypt "
      "would refuse";
  const std::string secret(kSecret, sizeof kSecret - 1);  // keeps the NUL byte
  ASSERT_GT(secret.size(), 72u);
  auto hash = BcryptSha512(AsBytes(secret), 4);
  ASSERT_TRUE(hash) << hash.error().Message();
  EXPECT_TRUE(hash->starts_with("$2b$04$"));
  EXPECT_TRUE(BcryptSha512Verify(AsBytes(secret), *hash));
  std::string other = secret;
  other.back() ^= 1;
  EXPECT_FALSE(BcryptSha512Verify(AsBytes(other), *hash));
  EXPECT_FALSE(BcryptVerify(secret.substr(0, 72), *hash));
}

TEST(BcryptSha512Test, GoldenValue) {
  // Made with Python 3.11 and the system libxcrypt (ctypes), independent of this code:
  //   t = base64.b64encode(hashlib.sha512(b'bucket-psk-0123456789').digest())   # 88 chars
  //   crypt(t, b'$2b$05$abcdefghijklmnopqrstuu')
  // which equals crypt(t[:72], ...): bcrypt reads 72 bytes.
  const char* golden = "$2b$05$abcdefghijklmnopqrstuua5ZDj0qmzWDvMiQfNWFqrtXrG4xy5bm";
  EXPECT_TRUE(BcryptSha512Verify(AsBytes("bucket-psk-0123456789"), golden));
  EXPECT_FALSE(BcryptSha512Verify(AsBytes("bucket-psk-0123456788"), golden));

  // Hashing all 88 characters with libxcrypt gives the same as the 72 we pass.
  const std::string text = Base64Encode(Sha512(AsBytes("bucket-psk-0123456789")));
  ASSERT_EQ(text.size(), 88u);
  crypt_data data{};
  const char* full = crypt_rn(text.c_str(), "$2b$05$abcdefghijklmnopqrstuu", &data, sizeof data);
  ASSERT_NE(full, nullptr);
  EXPECT_STREQ(full, golden);
}

}  // namespace
}  // namespace halley::crypto
