// SPDX-License-Identifier: Apache-2.0
#include "snapshot/snapshot.h"

#include <gtest/gtest.h>

#include <string>

namespace halley::snapshot {
namespace {

Id IdOf(char c) { return *Id::FromHex(std::string(64, c)); }

void ExpectCorruption(std::string_view json) {
  auto r = DecodeSnapshot(json);
  ASSERT_FALSE(r) << json;
  EXPECT_EQ(r.error().Code(), ErrorCode::kCorruption) << json << ": " << r.error().Message();
}

TEST(SnapshotTest, EncodesEveryFieldInGoOrder) {
  Snapshot s;
  s.time = Time{1700000000, 123456789, -8 * 3600};
  s.parent = IdOf('1');
  s.tree = IdOf('2');
  s.paths = {"/home/u", "/etc/<x>"};
  s.hostname = "host";
  s.username = "u";
  s.uid = 1000;
  s.gid = 100;
  s.excludes = {"*.tmp"};
  s.tags = {"a", "b"};
  s.original = IdOf('3');
  s.program_version = "halley 0.1.0";
  SnapshotSummary sum;
  sum.backup_start = Time{1700000000, 0, 0};
  sum.backup_end = Time{1700000060, 500000000, 0};
  sum.files_new = 1;
  sum.files_changed = 2;
  sum.files_unmodified = 3;
  sum.dirs_new = 4;
  sum.dirs_changed = 5;
  sum.dirs_unmodified = 6;
  sum.data_blobs = 7;
  sum.tree_blobs = 8;
  sum.data_added = 9;
  sum.data_added_packed = 10;
  sum.total_files_processed = 11;
  sum.total_bytes_processed = 18446744073709551615u;
  s.summary = sum;
  const std::string want =
      "{\"time\":\"2023-11-14T14:13:20.123456789-08:00\",\"parent\":\"" + std::string(64, '1') +
      "\",\"tree\":\"" + std::string(64, '2') +
      "\",\"paths\":[\"/home/u\",\"/etc/\\u003cx\\u003e\"],\"hostname\":\"host\","
      "\"username\":\"u\",\"uid\":1000,\"gid\":100,\"excludes\":[\"*.tmp\"],"
      "\"tags\":[\"a\",\"b\"],\"original\":\"" +
      std::string(64, '3') +
      "\",\"program_version\":\"halley 0.1.0\",\"summary\":{"
      "\"backup_start\":\"2023-11-14T22:13:20Z\",\"backup_end\":\"2023-11-14T22:14:20.5Z\","
      "\"files_new\":1,\"files_changed\":2,\"files_unmodified\":3,\"dirs_new\":4,"
      "\"dirs_changed\":5,\"dirs_unmodified\":6,\"data_blobs\":7,\"tree_blobs\":8,"
      "\"data_added\":9,\"data_added_packed\":10,\"total_files_processed\":11,"
      "\"total_bytes_processed\":18446744073709551615}}";
  EXPECT_EQ(EncodeSnapshot(s), want);
  auto back = DecodeSnapshot(want);
  ASSERT_TRUE(back) << back.error().Message();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->time.utc_offset, -8 * 3600);
}

TEST(SnapshotTest, OmitsEmptyOptionalFields) {
  Snapshot s;
  s.time = Time::Utc(0);
  s.tree = IdOf('a');
  const std::string want =
      "{\"time\":\"1970-01-01T00:00:00Z\",\"tree\":\"" + std::string(64, 'a') + "\",\"paths\":[]}";
  EXPECT_EQ(EncodeSnapshot(s), want);
  auto back = DecodeSnapshot(want);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
}

// The example in restic's documentation (doc/view_repository.rst, restic 0.18.1), compacted
// as encoding/json writes it.
TEST(SnapshotTest, Restic018DocumentationExampleRoundTrips) {
  const std::string json =
      R"({"time":"2026-02-19T22:44:34.833377676-08:00","parent":"b204fa5c0a8d3cd37fd97b23d0bf20e9c1c0a2144c609ecbf5ce62bb264e0e14",)"
      R"("tree":"eff44e81e07d4ffbb50c5e7012b4d74fce63c19791cab62a6e8df387fd71e1dd","paths":["/home/myuser/test-assets"],)"
      R"("hostname":"myhost","username":"myuser","uid":1000,"gid":1000,"tags":["assets"],"program_version":"restic 0.18.1",)"
      R"("summary":{"backup_start":"2026-02-19T22:44:34.833377676-08:00","backup_end":"2026-02-19T22:44:35.510749043-08:00",)"
      R"("files_new":0,"files_changed":0,"files_unmodified":32,"dirs_new":0,"dirs_changed":0,"dirs_unmodified":17,)"
      R"("data_blobs":0,"tree_blobs":0,"data_added":0,"data_added_packed":0,"total_files_processed":32,)"
      R"("total_bytes_processed":2525938}})";
  auto s = DecodeSnapshot(json);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->program_version, "restic 0.18.1");
  EXPECT_EQ(s->uid, 1000u);
  ASSERT_TRUE(s->summary);
  EXPECT_EQ(s->summary->files_unmodified, 32u);
  EXPECT_EQ(s->summary->dirs_unmodified, 17u);
  EXPECT_EQ(s->summary->total_bytes_processed, 2525938u);
  EXPECT_EQ(s->summary->backup_end.nanos, 510749043);
  EXPECT_EQ(EncodeSnapshot(*s), json);
}

TEST(SnapshotTest, UnknownAndNullMembers) {
  auto s =
      DecodeSnapshot(R"({"time":"2020-01-01T00:00:00Z","tree":")" + std::string(64, 'a') +
                     R"(","paths":null,"hostname":null,"tags":null,"summary":null,"parent":null,)"
                     R"("future":{"x":[1,2]},"uid":null})");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_TRUE(s->paths.empty());
  EXPECT_FALSE(s->parent);
  EXPECT_FALSE(s->summary);
}

TEST(SnapshotTest, MalformedIsCorruption) {
  const std::string tree = R"("tree":")" + std::string(64, 'a') + "\"";
  const std::string time = R"("time":"2020-01-01T00:00:00Z")";
  ExpectCorruption("");
  ExpectCorruption("[]");
  ExpectCorruption("{" + tree + "}");                  // no time
  ExpectCorruption("{" + time + "}");                  // no tree
  ExpectCorruption("{" + time + R"(,"tree":null})");   // null tree
  ExpectCorruption("{" + time + R"(,"tree":"abc"})");  // short tree ID
  ExpectCorruption(R"({"time":"noon",)" + tree + "}");
  ExpectCorruption(R"({"time":5,)" + tree + "}");
  for (const char* member :
       {R"("parent":"xyz")", R"("paths":"/")", R"("paths":[1])", R"("hostname":1)", R"("uid":-1)",
        R"("gid":4294967296)", R"("excludes":{})", R"("tags":[null])", R"("original":7)",
        R"("program_version":[])", R"("summary":[])", R"("summary":{"files_new":-1})",
        R"("summary":{"backup_start":"x"})"}) {
    ExpectCorruption("{" + time + "," + tree + "," + member + "}");
  }
}

}  // namespace
}  // namespace halley::snapshot
