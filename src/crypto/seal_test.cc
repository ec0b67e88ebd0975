// SPDX-License-Identifier: Apache-2.0
#include "crypto/seal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "base/encoding.h"
#include "base/json.h"
#include "crypto/hash.h"
#include "crypto/internal.h"
#include "crypto/kdf.h"
#include "crypto/random.h"

namespace halley::crypto {
namespace {

Bytes Hex(std::string_view hex) {
  auto b = HexDecode(hex);
  HALLEY_CHECK(b.has_value());
  return *b;
}

template <size_t N>
std::array<uint8_t, N> HexArray(std::string_view hex) {
  Bytes b = Hex(hex);
  HALLEY_CHECK(b.size() == N);
  std::array<uint8_t, N> a;
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  HALLEY_CHECK(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The key and plaintext of the known-answer vectors below.
Key TestKey() {
  Key key;
  key.encrypt = HexArray<32>("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  key.mac_k = HexArray<16>("202122232425262728292a2b2c2d2e2f");
  key.mac_r = HexArray<16>("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");  // clamping changes it
  return key;
}

Bytes TestPlaintext() {
  Bytes pt(100);  // six full blocks and a partial one
  for (size_t i = 0; i < pt.size(); ++i) pt[i] = static_cast<uint8_t>(i * 7 + 3);
  return pt;
}

// RFC 8439 §2.5.2.
TEST(SealTest, Poly1305Rfc8439) {
  Bytes key = Hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
  uint8_t tag[16];
  internal::Poly1305(key.data(), AsBytes("Cryptographic Forum Research Group"), tag);
  EXPECT_EQ(HexEncode(ByteView(tag)), "a8061dc1305136c6c22b8baf0c0127a9");
}

// Known answers made without this code by testdata/make_seal_vectors.py: the ciphertext with
// `openssl enc -aes-256-ctr -K <encrypt> -iv <iv> -nopad`, checked against AES-256-ECB (`openssl
// enc -aes-256-ecb -nopad`) of counter blocks computed as Python integers (iv + i) mod 2^128; s
// with `openssl enc -aes-128-ecb -K <mac_k> -nopad`; the tag with a 10-line pure-Python Poly1305
// (RFC 8439 §2.5.1) keyed clamp(mac_r) || s.
struct SealVector {
  const char* name;
  const char* iv;
  const char* sealed;
};

constexpr SealVector kSealVectors[] = {
    // The low 64 bits of the counter wrap after block 1; the carry must reach the high half.
    {"carry into high 64 bits", "0011223344556677fffffffffffffffe",
     "0011223344556677fffffffffffffffe6ac059a324c462aa306efcb52f090497"
     "b280cac1bb362bf78915ee7bcad02e51a34c9448f257c7fb862cddfa1dad1bb6"
     "a0d6dda2101585a73a76d82303a199b25ff1f4e3aa4fe2f04ff6a6c516533999"
     "f016fad67b74f3cbf7ef8947d8de7f7176da75925c109d5265bf1e89034d296c"
     "3aa7ae08"},
    // The whole 128-bit counter wraps to zero, as Go's cipher.NewCTR does.
    {"128-bit wrap", "fffffffffffffffffffffffffffffffe",
     "fffffffffffffffffffffffffffffffe60efa51aaa3865e9c1afb08ece924228"
     "9ae36595c331ed7ef835a8bb9a418232117af14ed54f92c4b2d1b35aea1032cc"
     "a30717c625cfe2612d640291ef6c8381cd7664066aca6e49f3aaa0250f32b4b5"
     "e179171b67d73d4bebecca034271c8caedf55704c0b2aa8445e178f2db19bc25"
     "5b2fed6e"},
    // Only the low 32 bits wrap (OpenSSL's AES-NI path counts in 32 bits and carries by hand).
    {"carry out of low 32 bits", "0102030405060708090a0b0cfffffffe",
     "0102030405060708090a0b0cfffffffe412462dc90152e66b2fe842e19de06fe"
     "66935067d181573185786ecfa9b167ef72f4edb515507d83dee78b45014cd1bc"
     "a85231a55c20a8f8db560fbbf2b3e41d14ef8863dfd5afa044ea31a6092d562a"
     "f2aab0971d95504f135798f1dec7780316f3e458dd2d3423ccaf9e7a654c0e3e"
     "ca9e9334"},
};

TEST(SealTest, KnownAnswers) {
  const Key key = TestKey();
  const Bytes pt = TestPlaintext();
  for (const SealVector& v : kSealVectors) {
    SCOPED_TRACE(v.name);
    Bytes iv = Hex(v.iv);
    Bytes out(pt.size() + kSealOverhead);
    internal::SealWithIv(key, iv.data(), pt, out.data());
    EXPECT_EQ(HexEncode(out), v.sealed);
    auto opened = Open(key, Hex(v.sealed));
    ASSERT_TRUE(opened) << opened.error().Message();
    EXPECT_EQ(*opened, pt);
  }
  // Empty plaintext: iv || Poly1305 of the empty message.
  Bytes iv = Hex("404142434445464748494a4b4c4d4e4f");
  Bytes out(kSealOverhead);
  internal::SealWithIv(key, iv.data(), {}, out.data());
  EXPECT_EQ(HexEncode(out), "404142434445464748494a4b4c4d4e4f859469c07743c7e45b318d151d3d87e9");
}

TEST(SealTest, RoundTripsManySizes) {
  const Key key = Key::Random();
  ASSERT_TRUE(key.Valid());
  for (size_t n : {0, 1, 15, 16, 17, 1000, 32768, 100003, 1 << 20}) {
    SCOPED_TRACE(n);
    Bytes pt = RandomBytes(n);
    Bytes sealed = Seal(key, pt);
    ASSERT_EQ(sealed.size(), n + kSealOverhead);
    auto opened = Open(key, sealed);
    ASSERT_TRUE(opened) << opened.error().Message();
    EXPECT_EQ(*opened, pt);
  }
}

TEST(SealTest, MatchesConstructionFromParts) {
  // A longer message than the known answers, against the construction spelled out with fresh
  // OpenSSL contexts (not the cached per-thread ones) and the RFC-checked Poly1305.
  const Key key = TestKey();
  Bytes pt = RandomBytes(100003);
  Bytes iv = Hex("0011223344556677fffffffffffffff0");
  Bytes sealed(pt.size() + kSealOverhead);
  internal::SealWithIv(key, iv.data(), pt, sealed.data());

  auto crypt = [](const EVP_CIPHER* cipher, ByteView k, const uint8_t* ivp, ByteView in) {
    Bytes out(in.size());
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    HALLEY_CHECK(EVP_EncryptInit_ex(ctx, cipher, nullptr, k.data(), ivp) == 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    HALLEY_CHECK(EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())));
    EVP_CIPHER_CTX_free(ctx);
    return out;
  };
  const Bytes ct = crypt(EVP_aes_256_ctr(), key.encrypt, iv.data(), pt);
  const Bytes s = crypt(EVP_aes_128_ecb(), key.mac_k, nullptr, iv);
  Bytes one_time(key.mac_r.begin(), key.mac_r.end());  // internal::Poly1305 clamps
  Append(one_time, s);
  uint8_t tag[16];
  internal::Poly1305(one_time.data(), ct, tag);
  Bytes expected = iv;
  Append(expected, ct);
  Append(expected, ByteView(tag));
  EXPECT_EQ(sealed, expected);
}

TEST(SealTest, SwitchingKeysOnOneThread) {
  // Each thread caches the last key schedule; alternating keys must not mix them up.
  const Key a = Key::Random();
  Key b = a;
  b.encrypt[31] ^= 1;  // same MAC key: only the CTR key cache tells them apart
  Key c = a;
  c.mac_k[0] ^= 1;  // same AES key: only the ECB key cache tells them apart
  const Bytes pt = RandomBytes(1000);
  const Bytes sa = Seal(a, pt);
  const Bytes sb = Seal(b, pt);
  const Bytes sc = Seal(c, pt);
  const Bytes sa2 = Seal(a, pt);
  for (const Bytes* s : {&sa, &sa2}) {
    auto r = Open(a, *s);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, pt);
  }
  auto rb = Open(b, sb);
  ASSERT_TRUE(rb);
  EXPECT_EQ(*rb, pt);
  EXPECT_NE(*Open(a, sb), pt);  // MAC ok (same MAC key), wrong AES key: garbage
  EXPECT_FALSE(Open(c, sa));
  EXPECT_FALSE(Open(a, sc));
  auto rc = Open(c, sc);
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, pt);
}

TEST(SealTest, IvIsFreshAndNonZero) {
  const Key key = Key::Random();
  Bytes a = Seal(key, AsBytes("same"));
  Bytes b = Seal(key, AsBytes("same"));
  EXPECT_FALSE(std::all_of(a.begin(), a.begin() + 16, [](uint8_t x) { return x == 0; }));
  EXPECT_FALSE(std::equal(a.begin(), a.begin() + 16, b.begin())) << "IV reused";
  EXPECT_NE(a, b);
}

TEST(SealTest, InPlace) {
  const Key key = Key::Random();
  const Bytes pt = RandomBytes(5000);
  Bytes buf(16);  // room for the IV, then the plaintext where the ciphertext will go
  Append(buf, pt);
  buf.resize(buf.size() + 16);
  SealTo(key, ByteView(buf).subspan(16, pt.size()), buf.data());
  auto opened = Open(key, buf);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, pt);

  ASSERT_TRUE(OpenTo(key, buf, buf.data() + 16));
  EXPECT_TRUE(std::equal(pt.begin(), pt.end(), buf.begin() + 16));
}

TEST(SealTest, OpenRejectsTampering) {
  const Key key = Key::Random();
  const Bytes pt = RandomBytes(64);
  const Bytes sealed = Seal(key, pt);
  auto expect_corrupt = [&](const Bytes& bad, std::string_view message) {
    auto r = Open(key, bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().Code(), ErrorCode::kCorruption);
    EXPECT_EQ(r.error().Message(), message);
  };
  for (size_t pos :
       {size_t{0}, size_t{15}, size_t{16}, size_t{50}, size_t{79}, size_t{80}, sealed.size() - 1}) {
    SCOPED_TRACE(pos);  // 0-15 IV, 16-79 ciphertext, 80-95 tag
    for (uint8_t bit : {0x01, 0x80}) {
      Bytes bad = sealed;
      bad[pos] ^= bit;
      expect_corrupt(bad, "ciphertext verification failed");
    }
  }
  expect_corrupt(Bytes(sealed.begin(), sealed.end() - 1), "ciphertext verification failed");
  expect_corrupt(Bytes(sealed.begin() + 1, sealed.end()), "ciphertext verification failed");
  expect_corrupt(Bytes(sealed.begin(), sealed.begin() + 31), "ciphertext too short");
  expect_corrupt(Bytes(), "ciphertext too short");
  Bytes zero_iv = sealed;
  std::fill(zero_iv.begin(), zero_iv.begin() + 16, 0);
  expect_corrupt(zero_iv, "ciphertext has an all-zero IV");

  Key other = key;
  other.mac_r[0] ^= 1;
  EXPECT_FALSE(Open(other, sealed));
  other = key;
  other.mac_k[15] ^= 1;
  EXPECT_FALSE(Open(other, sealed));
  other = key;
  other.encrypt[0] ^= 1;  // the MAC does not cover the AES key: this "opens" to garbage
  auto garbage = Open(other, sealed);
  ASSERT_TRUE(garbage);
  EXPECT_NE(*garbage, pt);
}

TEST(SealTest, OpenToLeavesOutputUntouchedOnFailure) {
  const Key key = Key::Random();
  Bytes sealed = Seal(key, AsBytes("attack at dawn"));
  sealed[20] ^= 4;
  Bytes out(sealed.size() - kSealOverhead, 0xee);
  EXPECT_FALSE(OpenTo(key, sealed, out.data()));
  EXPECT_EQ(out, Bytes(out.size(), 0xee));
}

TEST(SealTest, KeyValidity) {
  EXPECT_FALSE(Key{}.Valid());
  Key key = Key::Random();
  EXPECT_TRUE(key.Valid());
  Key k = key;
  k.encrypt.fill(0);
  EXPECT_FALSE(k.Valid());
  k = key;
  k.mac_k.fill(0);
  EXPECT_FALSE(k.Valid());
  k = key;
  k.mac_r.fill(0);
  EXPECT_FALSE(k.Valid());
  EXPECT_NE(Key::Random(), Key::Random());
}

TEST(MasterKeyJsonTest, EncodesLikeGo) {
  EXPECT_EQ(EncodeMasterKeyJson(TestKey()),
            R"({"mac":{"k":"ICEiIyQlJicoKSorLC0uLw==","r":"8PHy8/T19vf4+fr7/P3+/w=="},)"
            R"("encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})");
  const Key key = Key::Random();
  auto decoded = DecodeMasterKeyJson(EncodeMasterKeyJson(key));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, key);
}

TEST(MasterKeyJsonTest, RejectsBadInput) {
  const std::string good = EncodeMasterKeyJson(TestKey());
  ASSERT_TRUE(DecodeMasterKeyJson(good));
  const char* bad[] = {
      "",
      "[]",
      "not json",
      R"({"encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})",
      R"({"mac":"x","encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})",
      R"({"mac":{"k":"ICEiIyQlJicoKSorLC0uLw==","r":"8PHy8/T19vf4+fr7/P3+/w=="}})",
      // 15-byte k, 17-byte r, 31-byte encrypt
      R"({"mac":{"k":"ICEiIyQlJicoKSorLC0u","r":"8PHy8/T19vf4+fr7/P3+/w=="},"encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})",
      R"({"mac":{"k":"ICEiIyQlJicoKSorLC0uLw==","r":"8PHy8/T19vf4+fr7/P3+/wA="},"encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})",
      R"({"mac":{"k":"ICEiIyQlJicoKSorLC0uLw==","r":"8PHy8/T19vf4+fr7/P3+/w=="},"encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="})",
      R"({"mac":{"k":"ICEiIyQlJicoKSorLC0uLw==","r":"8PHy8/T19vf4+fr7/P3+/w=="},"encrypt":"!!!"})",
      R"({"mac":{"k":1,"r":"8PHy8/T19vf4+fr7/P3+/w=="},"encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})",
      // all-zero mac.r
      R"({"mac":{"k":"ICEiIyQlJicoKSorLC0uLw==","r":"AAAAAAAAAAAAAAAAAAAAAA=="},"encrypt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})",
  };
  for (const char* json : bad) {
    auto r = DecodeMasterKeyJson(json);
    ASSERT_FALSE(r) << json;
    EXPECT_EQ(r.error().Code(), ErrorCode::kCorruption) << json;
  }
}

// testdata/restic_repo holds the key file and config of a repository made by Debian's restic
// 0.14.0: `RESTIC_PASSWORD=halley-crypto-fixture restic init --repo restic_repo` (other
// directories, empty, left out). This opens it the way restic does.
TEST(ResticCompatTest, OpensResticKeyFileAndConfig) {
  const std::filesystem::path repo = std::filesystem::path(HALLEY_CRYPTO_TESTDATA) / "restic_repo";
  const std::string key_id = "780fe72c72113822010af7ad99a933adb239231447dd918184b4dcbfcceeb8b5";
  const std::string key_file = ReadFile(repo / "keys" / key_id);
  EXPECT_EQ(Sha256(AsBytes(key_file)).Hex(), key_id) << "key files are named by their hash";

  auto json = ParseJson(key_file);
  ASSERT_TRUE(json);
  EXPECT_EQ(*JsonString(*json, "kdf"), "scrypt");
  auto salt = Base64Decode(*JsonString(*json, "salt"));
  auto data = Base64Decode(*JsonString(*json, "data"));
  ASSERT_TRUE(salt && data);
  EXPECT_EQ(salt->size(), 64u);
  auto derived = Scrypt("halley-crypto-fixture", *salt, *JsonUint(*json, "N"),
                        static_cast<uint32_t>(*JsonUint(*json, "r")),
                        static_cast<uint32_t>(*JsonUint(*json, "p")), 64);
  ASSERT_TRUE(derived) << derived.error().Message();
  const Key user_key = KeyFromScrypt(*derived);
  ASSERT_TRUE(user_key.Valid());

  auto master_json = Open(user_key, *data);
  ASSERT_TRUE(master_json) << master_json.error().Message();
  auto master = DecodeMasterKeyJson(AsString(*master_json));
  ASSERT_TRUE(master) << master.error().Message();
  // Our encoder reproduces restic's bytes exactly.
  EXPECT_EQ(EncodeMasterKeyJson(*master), AsString(*master_json));
  // Decrypted independently with Python's hashlib.scrypt and `cryptography`.
  EXPECT_EQ(HexEncode(master->encrypt),
            "ca91544ef72e42e2e6581510a0ab4d27e0a77f28ce8657b35b10bb9edc1041ff");

  Key wrong = user_key;
  wrong.mac_r[0] ^= 0x01;
  EXPECT_FALSE(Open(wrong, *data));
  // mac_r is stored unclamped; the bits the clamp clears (here bit 5 of byte 3) do not matter.
  Key clamped_away = user_key;
  clamped_away.mac_r[3] ^= 0x20;
  EXPECT_TRUE(Open(clamped_away, *data));

  const std::string config = ReadFile(repo / "config");
  auto config_json = Open(*master, AsBytes(config));
  ASSERT_TRUE(config_json) << config_json.error().Message();
  EXPECT_EQ(
      AsString(*config_json),
      R"({"version":2,"id":"c15c14e9bf01899399edf3f13a4d674f594ebf987975a972a0eca1e845578249",)"
      R"("chunker_polynomial":"30364e802a4291"})");
  auto parsed = ParseJson(AsString(*config_json));
  ASSERT_TRUE(parsed);
  EXPECT_EQ((*parsed)["version"], 2);

  // And restic could read what we seal with its master key.
  auto reopened = Open(*master, Seal(*master, *config_json));
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened, *config_json);
}

TEST(SealTest, OpensToComparesWithTheExpectedPlaintext) {
  Key key = Key::Random();
  Bytes plain(200000);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 7 + i / 300);
  Bytes sealed = Seal(key, plain);
  EXPECT_TRUE(OpensTo(key, sealed, plain));
  Bytes other = plain;
  other[150000] ^= 0x80;  // a later 64 KiB slice
  EXPECT_FALSE(OpensTo(key, sealed, other));
  EXPECT_FALSE(OpensTo(key, sealed, ByteView(plain).first(plain.size() - 1)));
  EXPECT_FALSE(OpensTo(Key::Random(), sealed, plain));
  Bytes tampered = sealed;
  tampered[100] ^= 1;
  EXPECT_FALSE(OpensTo(key, tampered, plain));
  EXPECT_TRUE(OpensTo(key, Seal(key, {}), {}));
}

}  // namespace
}  // namespace halley::crypto
