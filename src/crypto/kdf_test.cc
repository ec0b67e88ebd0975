// SPDX-License-Identifier: Apache-2.0
#include "crypto/kdf.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>

#include "base/encoding.h"
#include "crypto/internal.h"
#include "crypto/login.h"

namespace halley::crypto {
namespace {

Bytes Hex(std::string_view hex) {
  auto b = HexDecode(hex);
  HALLEY_CHECK(b.has_value());
  return *b;
}

std::string ScryptHex(std::string_view password, std::string_view salt, uint64_t n, uint32_t r,
                      uint32_t p) {
  auto out = Scrypt(password, AsBytes(salt), n, r, p, 64);
  HALLEY_CHECK(out.has_value());
  return HexEncode(*out);
}

// RFC 7914 §12.
TEST(ScryptTest, Rfc7914Vectors) {
  EXPECT_EQ(ScryptHex("", "", 16, 1, 1),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
            "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
  EXPECT_EQ(ScryptHex("password", "NaCl", 1024, 8, 16),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
  EXPECT_EQ(ScryptHex("pleaseletmein", "SodiumChloride", 16384, 8, 1),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
            "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

// The largest RFC vector: N=2^20, r=8 needs 1 GiB (OpenSSL's default limit is 32 MiB).
TEST(ScryptTest, Rfc7914OneGibVector) {
  EXPECT_EQ(ScryptHex("pleaseletmein", "SodiumChloride", 1048576, 8, 1),
            "2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa47"
            "8e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4");
}

// Lanes split over workers keep only every w-th V_i and recompute the others: the output must
// not depend on the number of threads. RFC 7914's p=16 vector with 1 to 5 threads.
TEST(ScryptTest, SameOutputWithAnyThreadCount) {
  for (unsigned threads = 1; threads <= 5; ++threads) {
    auto out = internal::ScryptLanes("password", AsBytes("NaCl"), 1024, 8, 16, 64, threads);
    ASSERT_TRUE(out);
    EXPECT_EQ(HexEncode(*out),
              "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
              "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
        << threads << " threads";
  }
}

// Differential test against OpenSSL's independent scrypt on random parameters, passwords,
// salts, output lengths and thread counts.
TEST(ScryptTest, MatchesOpenSslOnRandomInputs) {
  std::mt19937_64 rng(20261127);
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  auto random_bytes = [&](size_t n) {
    Bytes b(n);
    for (auto& c : b) c = static_cast<uint8_t>(pick(0, 255));
    return b;
  };
  for (int i = 0; i < 60; ++i) {
    const uint64_t n = uint64_t{1} << pick(1, 10);
    const auto r = static_cast<uint32_t>(pick(1, 8));
    const auto p = static_cast<uint32_t>(pick(1, 6));
    const Bytes password = random_bytes(pick(0, 40));
    const Bytes salt = random_bytes(pick(0, 70));
    const size_t length = pick(1, 200);
    const auto threads = static_cast<unsigned>(pick(1, 4));
    Bytes want(length);
    ASSERT_EQ(EVP_PBE_scrypt(reinterpret_cast<const char*>(password.data()), password.size(),
                             salt.data(), salt.size(), n, r, p, 0, want.data(), want.size()),
              1);
    std::string_view pw(reinterpret_cast<const char*>(password.data()), password.size());
    auto got = internal::ScryptLanes(pw, salt, n, r, p, length, threads);
    ASSERT_TRUE(got);
    EXPECT_EQ(HexEncode(*got), HexEncode(want))
        << "N=" << n << " r=" << r << " p=" << p << " threads=" << threads;
  }
}

TEST(ScryptTest, RejectsInsaneParameters) {
  struct Case {
    uint64_t n;
    uint32_t r, p;
    size_t length;
  };
  const Case cases[] = {
      {0, 8, 1, 64},                   // N not a power of two > 1
      {1, 8, 1, 64},                   // N not a power of two > 1
      {1000, 8, 1, 64},                // N not a power of two
      {(1ull << 20) + 1, 8, 1, 64},    // N not a power of two
      {1024, 0, 1, 64},                // r = 0
      {1024, 8, 0, 64},                // p = 0
      {1024, 1u << 15, 1u << 15, 64},  // r*p = 2^30
      {1u << 16, 1, 1, 64},            // N >= 2^(16r)
      {1u << 22, 8, 1, 64},            // 4 GiB
      {2, 8, 1u << 21, 64},            // B alone needs 2 GiB
      {1u << 20, 8, 16, 64},           // work 2^27
      {1024, 8, 1, 0},                 // no output
      {1024, 8, 1, size_t{1} << 31},   // output beyond PBKDF2's int length
      {1ull << 63, 8, 1, 64},          // overflow guards
      {1ull << 62, 1u << 29, 1, 64},   // overflow guards
  };
  for (const Case& c : cases) {
    auto r = Scrypt("pw", AsBytes("salt"), c.n, c.r, c.p, c.length);
    ASSERT_FALSE(r) << c.n << " " << c.r << " " << c.p << " " << c.length;
    EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);
  }
  // The smallest legal values work.
  EXPECT_TRUE(Scrypt("pw", AsBytes("salt"), 2, 1, 1, 1));
}

TEST(ScryptTest, KeyFromScryptSplitsLikeRestic) {
  Bytes d(64);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i + 1);
  const Key key = KeyFromScrypt(d);
  EXPECT_EQ(HexEncode(key.encrypt), HexEncode(ByteView(d).first(32)));
  EXPECT_EQ(HexEncode(key.mac_k), HexEncode(ByteView(d).subspan(32, 16)));
  EXPECT_EQ(HexEncode(key.mac_r), HexEncode(ByteView(d).subspan(48, 16)));
}

// Published PBKDF2-HMAC-SHA512 vectors (e.g. RFC 7914 §11 style, widely reproduced; checked
// against Python's hashlib.pbkdf2_hmac).
TEST(Pbkdf2Test, Sha512Vectors) {
  EXPECT_EQ(HexEncode(Pbkdf2Sha512("password", AsBytes("salt"), 1, 64)),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
            "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce");
  EXPECT_EQ(HexEncode(Pbkdf2Sha512("password", AsBytes("salt"), 2, 64)),
            "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c"
            "f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e");
}

// RFC 5869 appendix A.
TEST(HkdfTest, Rfc5869Vectors) {
  const Bytes ikm(22, 0x0b);
  // Test case 1.
  EXPECT_EQ(HexEncode(HkdfSha256(ikm, Hex("000102030405060708090a0b0c"),
                                 Hex("f0f1f2f3f4f5f6f7f8f9"), 42)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  // Test case 3: empty salt and info (the form WrapSecret uses for the salt).
  EXPECT_EQ(HexEncode(HkdfSha256(ikm, {}, {}, 42)),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(LoginKeysTest, GoldenValueAndShape) {
  // Golden value made once with Python 3.11:
  //   d = hashlib.pbkdf2_hmac('sha512', b'correct horse battery staple',
  //                           b'halley/zkr/v1/alice@example.com', 100000, 48)
  //   L = d[:24].hex(), R = d[24:].hex()
  // It must never change: servers store bcrypt(base64(SHA-512(L))).
  const LoginKeys keys = DeriveLoginKeys("alice@example.com", "correct horse battery staple");
  EXPECT_EQ(HexEncode(keys.l), "1a5d6772739803881b6f186aaf9b1960dfa9f38f592f13a1");
  EXPECT_EQ(HexEncode(keys.r), "6e1a6fa545a6c1e38debc82117ff482f82991132a556e738");
  EXPECT_EQ(kLoginKdfIterations, 100000u);

  const LoginKeys again = DeriveLoginKeys("alice@example.com", "correct horse battery staple");
  EXPECT_EQ(again.l, keys.l);
  EXPECT_EQ(again.r, keys.r);
  EXPECT_NE(keys.l, keys.r);
  EXPECT_NE(DeriveLoginKeys("bob@example.com", "correct horse battery staple").l, keys.l)
      << "the username salts the derivation";
  EXPECT_NE(DeriveLoginKeys("alice@example.com", "correct horse battery staplf").l, keys.l);
}

}  // namespace
}  // namespace halley::crypto
