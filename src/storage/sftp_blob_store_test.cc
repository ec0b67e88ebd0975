// SPDX-License-Identifier: Apache-2.0
//
// Parsing of sftp: locations. The store itself runs against OpenSSH's sshd in
// tests/integration/test_sftp.py (tests/sftp_blob_store_test.cc: the conformance suite).
#include "storage/sftp_blob_store.h"

#include <gtest/gtest.h>

namespace halley::storage {
namespace {

SftpLocation Parse(std::string_view s) {
  auto r = ParseSftpLocation(s);
  EXPECT_TRUE(r.has_value()) << s << ": " << (r ? "" : r.error().Message());
  return r ? *r : SftpLocation{};
}

TEST(SftpLocationTest, ScpForm) {
  SftpLocation l = Parse("alice@backup.example.com:/srv/vault");
  EXPECT_EQ(l.user, "alice");
  EXPECT_EQ(l.host, "backup.example.com");
  EXPECT_EQ(l.port, 0);
  EXPECT_EQ(l.path, "/srv/vault");

  l = Parse("host:vaults/mine/");  // relative to the home directory; trailing '/' dropped
  EXPECT_EQ(l.user, "");
  EXPECT_EQ(l.host, "host");
  EXPECT_EQ(l.path, "vaults/mine");

  l = Parse("bob@127.0.0.1:2222:/v");
  EXPECT_EQ(l.user, "bob");
  EXPECT_EQ(l.host, "127.0.0.1");
  EXPECT_EQ(l.port, 2222);
  EXPECT_EQ(l.path, "/v");

  l = Parse("[::1]:2222:/v");
  EXPECT_EQ(l.host, "::1");
  EXPECT_EQ(l.port, 2222);
  EXPECT_EQ(l.path, "/v");

  l = Parse("u@[fe80::1]:rel");
  EXPECT_EQ(l.user, "u");
  EXPECT_EQ(l.host, "fe80::1");
  EXPECT_EQ(l.port, 0);
  EXPECT_EQ(l.path, "rel");

  // A path that itself contains ':' after a non-numeric first segment.
  l = Parse("host:dir:with:colons");
  EXPECT_EQ(l.port, 0);
  EXPECT_EQ(l.path, "dir:with:colons");

  EXPECT_EQ(Parse("host:/").path, "/");
}

TEST(SftpLocationTest, UrlFormFollowsRestic) {
  SftpLocation l = Parse("//alice@host:2222/vaults/mine");
  EXPECT_EQ(l.user, "alice");
  EXPECT_EQ(l.host, "host");
  EXPECT_EQ(l.port, 2222);
  EXPECT_EQ(l.path, "vaults/mine");  // relative to home, as in restic

  l = Parse("//host//srv/vault");
  EXPECT_EQ(l.port, 0);
  EXPECT_EQ(l.path, "/srv/vault");

  l = Parse("//[::1]:22//srv");
  EXPECT_EQ(l.host, "::1");
  EXPECT_EQ(l.port, 22);
  EXPECT_EQ(l.path, "/srv");
}

TEST(SftpLocationTest, RefusesMalformed) {
  for (std::string_view bad :
       {"", "host", "host:", ":/path", "user@:/p", "host:0:/p", "host:70000:/p", "[::1:/p",
        "[::1]x:/p", "//host", "//host/", "//:22/p", "//host:port/p"}) {
    auto r = ParseSftpLocation(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().Message().find("sftp:"), std::string::npos) << r.error().Message();
  }
}

TEST(SftpBlobStoreTest, OpenChecksOptionsWithoutConnecting) {
  SftpOptions o;
  o.connections = 0;
  EXPECT_FALSE(SftpBlobStore::Open("host:/v", o).has_value());
  auto store = SftpBlobStore::Open("u@host.invalid:/v", SftpOptions{});
  ASSERT_TRUE(store.has_value());
  EXPECT_EQ((*store)->Location(), "sftp:u@host.invalid:/v");
}

}  // namespace
}  // namespace halley::storage
