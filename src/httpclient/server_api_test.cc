// SPDX-License-Identifier: Apache-2.0
#include "httpclient/server_api.h"

#include <gtest/gtest.h>

#include "base/test_util.h"

namespace halley::httpclient {
namespace {

using testutil::FailsWith;
using testutil::Succeeds;
using testutil::TempDir;
using testutil::UnusedLoopbackPort;

TEST(ServerApiTest, NormalizesServerUrls) {
  EXPECT_EQ(*NormalizeServerUrl("127.0.0.1:8060"), "http://127.0.0.1:8060/");
  EXPECT_EQ(*NormalizeServerUrl("https://backup.example.com"), "https://backup.example.com/");
  EXPECT_EQ(*NormalizeServerUrl("http://h/halley"), "http://h/halley/");
  EXPECT_EQ(*NormalizeServerUrl("http://h:1/"), "http://h:1/");
  EXPECT_TRUE(FailsWith(NormalizeServerUrl("ftp://h/"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(NormalizeServerUrl("http://"), ErrorCode::kInvalidArgument));
  auto creds = NormalizeServerUrl("http://alice:secret@h/");
  ASSERT_TRUE(FailsWith(creds, ErrorCode::kInvalidArgument));
  EXPECT_EQ(creds.error().Message().find("secret"), std::string::npos);
  EXPECT_TRUE(FailsWith(NormalizeServerUrl("http://h/?x=1"), ErrorCode::kInvalidArgument));
}

TEST(ServerApiTest, EncodesForms) {
  EXPECT_EQ(EncodeForm({}), "");
  EXPECT_EQ(EncodeForm({{"a", "b"}, {"Profile", "{\"x\": 1}"}}),
            "a=b&Profile=%7B%22x%22%3A%201%7D");
  EXPECT_EQ(EncodeForm({{"k", "a+b&c=d%"}}), "k=a%2Bb%26c%3Dd%25");
  EXPECT_EQ(EncodeForm({{"u", "\xc3\xa9-_.~"}}), "u=%C3%A9-_.~");
}

TEST(ServerApiTest, NoAnswerIsRetryable) {
  ServerApi api("http://127.0.0.1:" + std::to_string(UnusedLoopbackPort()) + "/", {});
  auto r = api.Call("user/web/get-user-profile-and-hash", {}, {"alice", "zkr1:00"});
  EXPECT_TRUE(FailsWith(r, ErrorCode::kUnavailable));
}

}  // namespace
}  // namespace halley::httpclient
