// SPDX-License-Identifier: Apache-2.0
#include "client/login_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "base/test_util.h"
#include "crypto/login.h"
#include "fs/fs.h"

namespace halley::client {
namespace {

using testutil::FailsWith;
using testutil::Succeeds;
using testutil::TempDir;
using testutil::UnusedLoopbackPort;

LoginState Sample() {
  const crypto::LoginKeys keys = crypto::DeriveLoginKeys("alice", "correct horse");
  LoginState s;
  s.server = "https://backup.example.com:8060/";
  s.username = "alice";
  s.l = keys.l;
  s.r = keys.r;
  s.device_id = "0123456789abcdef0123456789abcdef";
  s.ca_file = "/etc/ssl/private-ca.pem";
  s.ui_locked = true;
  return s;
}

TEST(LoginStateTest, RoundTripsThroughAPrivateFile) {
  TempDir dir;
  const std::string config = dir.Sub("config");
  auto none = LoadLogin(config);
  ASSERT_TRUE(Succeeds(none));
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(Succeeds(SaveLogin(config, Sample())));
  struct stat st {};
  ASSERT_EQ(::stat((config + "/login.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(config.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto loaded = LoadLogin(config);
  ASSERT_TRUE(Succeeds(loaded));
  ASSERT_TRUE(loaded->has_value());
  const LoginState& s = **loaded;
  EXPECT_EQ(s.server, "https://backup.example.com:8060/");
  EXPECT_EQ(s.username, "alice");
  EXPECT_EQ(s.l, Sample().l);
  EXPECT_EQ(s.r, Sample().r);
  EXPECT_EQ(s.device_id, Sample().device_id);
  EXPECT_EQ(s.ca_file, "/etc/ssl/private-ca.pem");
  EXPECT_TRUE(s.ui_locked);
  EXPECT_EQ(s.Creds().secret, crypto::EncodeLoginSecret(Sample().l));

  auto removed = RemoveLogin(config);
  ASSERT_TRUE(Succeeds(removed));
  EXPECT_TRUE(*removed);
  removed = RemoveLogin(config);
  ASSERT_TRUE(Succeeds(removed));
  EXPECT_FALSE(*removed);
}

TEST(LoginStateTest, TheFileNeverHoldsThePassword) {
  TempDir dir;
  ASSERT_TRUE(Succeeds(SaveLogin(dir.Path(), Sample())));
  auto text = fs::ReadFileLimited(dir.Sub("login.json"), 1 << 20);
  ASSERT_TRUE(Succeeds(text));
  EXPECT_EQ(text->find("correct horse"), std::string::npos);
}

TEST(LoginStateTest, ChecksThePasswordAgainstL) {
  const LoginState s = Sample();
  EXPECT_TRUE(s.PasswordMatches("correct horse"));
  EXPECT_FALSE(s.PasswordMatches("correct horse "));
  EXPECT_FALSE(s.PasswordMatches(""));
}

TEST(LoginStateTest, ADamagedFileSaysHowToRecover) {
  TempDir dir;
  for (const char* text :
       {"{", "[]", R"({"Version":1,"Server":"x"})", R"({"Version":2,"Server":"x","Username":"a"})",
        R"({"Version":1,"Server":"x","Username":"a","LoginKey":"zz",)"
        R"("WrapKey":"00","DeviceID":"d"})"}) {
    std::ofstream(dir.Sub("login.json")) << text;
    auto r = LoadLogin(dir.Path());
    EXPECT_TRUE(FailsWith(r, ErrorCode::kCorruption)) << text;
    if (!r) {
      EXPECT_NE(r.error().Message().find("login prompt"), std::string::npos);
    }
  }
}

TEST(LoginStateTest, DeviceIdIsStableAndEntropyTellsClonesApart) {
  auto a = DeviceId("");
  if (!a) GTEST_SKIP() << "no machine ID here: " << a.error().Message();
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*DeviceId(""), *a);
  auto b = DeviceId("clone-2");
  ASSERT_TRUE(Succeeds(b));
  EXPECT_NE(*b, *a);
  EXPECT_EQ(*DeviceId("clone-2"), *b);
}

}  // namespace
}  // namespace halley::client
