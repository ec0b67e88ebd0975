// SPDX-License-Identifier: Apache-2.0
#include "repo/key_file.h"

#include <gtest/gtest.h>

namespace halley::repo {
namespace {

constexpr ScryptParams kFast{1024, 8, 1};

TEST(KeyFileTest, RoundTrip) {
  crypto::Key master = crypto::Key::Random();
  KeyFile k = NewKeyFile(master, "secret", kFast, *ParseRfc3339("2026-11-26T05:17:18.943364724Z"),
                         "root", "vm");
  std::string json = EncodeKeyFile(k);
  EXPECT_EQ(
      json.rfind(
          R"({"created":"2026-11-26T05:17:18.943364724Z","username":"root","hostname":"vm","kdf":"scrypt","N":1024,"r":8,"p":1,"salt":")",
          0),
      0u)
      << json;
  auto d = DecodeKeyFile(json);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->salt.size(), 64u);
  auto opened = OpenKeyFile(*d, "secret");
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->encrypt, master.encrypt);
  EXPECT_EQ(opened->mac_r, master.mac_r);
  auto wrong = OpenKeyFile(*d, "Secret");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().Code(), ErrorCode::kUnauthenticated);
}

TEST(KeyFileTest, FullEntropyParamsWork) {
  crypto::Key master = crypto::Key::Random();
  KeyFile k = NewKeyFile(master, "00112233445566778899aabbccddeeff", kFullEntropyScryptParams,
                         Time::Utc(0), "", "");
  auto opened = OpenKeyFile(*DecodeKeyFile(EncodeKeyFile(k)), "00112233445566778899aabbccddeeff");
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->mac_k, master.mac_k);
}

TEST(KeyFileTest, RejectsMalformedAndHostile) {
  EXPECT_EQ(DecodeKeyFile(R"({"kdf":"argon2"})").error().Code(), ErrorCode::kNotSupported);
  EXPECT_EQ(DecodeKeyFile(R"({"kdf":"scrypt","N":2,"r":1,"p":1,"salt":"AAAA","data":"AAAA"})")
                .error()
                .Code(),
            ErrorCode::kCorruption)
      << "salt must be 64 bytes";
  KeyFile k = NewKeyFile(crypto::Key::Random(), "pw", kFast, Time::Utc(0), "", "");
  k.params.n = uint64_t{1} << 40;
  EXPECT_EQ(OpenKeyFile(k, "pw").error().Code(), ErrorCode::kCorruption);
  k.params.n = 1024;
  k.data[20] ^= 1;
  EXPECT_EQ(OpenKeyFile(k, "pw").error().Code(), ErrorCode::kUnauthenticated);
}

}  // namespace
}  // namespace halley::repo
