// SPDX-License-Identifier: Apache-2.0
#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/encoding.h"
#include "crypto/random.h"  // test data

namespace halley::crypto {
namespace {

// FIPS 180-2 appendix B (SHA-256) and C (SHA-512) examples, plus the empty string.
TEST(HashTest, Sha256KnownAnswers) {
  EXPECT_EQ(Sha256(AsBytes("abc")).Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256({}).Hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).Hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HashTest, Sha512KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha512(AsBytes("abc"))),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(HexEncode(Sha512({})),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
}

TEST(HashTest, HasherMatchesOneShot) {
  Bytes data = RandomBytes(10000);
  const Id expected = Sha256(data);
  for (size_t split :
       {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{9999}, size_t{10000}}) {
    Sha256Hasher h;
    h.Update(ByteView(data).first(split));
    h.Update(ByteView(data).subspan(split));
    EXPECT_EQ(h.Finish(), expected) << "split at " << split;
  }
  Sha256Hasher bytewise;
  for (uint8_t b : data) bytewise.Update(ByteView(&b, 1));
  EXPECT_EQ(bytewise.Finish(), expected);
}

TEST(HashTest, HasherResetsAfterFinishAndMoves) {
  Sha256Hasher h;
  h.Update(AsBytes("a"));
  h.Update(AsBytes("bc"));
  EXPECT_EQ(h.Finish(), Sha256(AsBytes("abc")));
  EXPECT_EQ(h.Finish(), Sha256({})) << "Finish() starts a new message";
  h.Update(AsBytes("ab"));
  Sha256Hasher moved(std::move(h));
  moved.Update(AsBytes("c"));
  Sha256Hasher assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.Finish(), Sha256(AsBytes("abc")));
}

TEST(HashTest, ThreadsGetIndependentContexts) {
  std::vector<std::thread> threads;
  std::vector<int> ok(8);  // not vector<bool>: threads write neighbouring elements
  for (size_t i = 0; i < ok.size(); ++i) {
    threads.emplace_back([&ok, i] {
      bool good = true;
      for (int j = 0; j < 2000; ++j) {
        good &= Sha256(AsBytes("abc")).Hex() ==
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
      }
      ok[i] = good;
    });
  }
  for (auto& t : threads) t.join();
  for (int b : ok) EXPECT_TRUE(b);
}

TEST(HashTest, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
  EXPECT_TRUE(ConstantTimeEqual(AsBytes("secret"), AsBytes("secret")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("secret"), AsBytes("secreT")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("secret"), AsBytes("secret!")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes(""), AsBytes("x")));
}

}  // namespace
}  // namespace halley::crypto
