// SPDX-License-Identifier: Apache-2.0
#include "snapshot/tree.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "snapshot/mode.h"

namespace halley::snapshot {
namespace {

Id IdOf(char c) { return *Id::FromHex(std::string(64, c)); }

Node FileNode(std::string name) {
  Node n;
  n.name = std::move(name);
  n.type = NodeType::kFile;
  n.mode = 0644;
  n.mtime = n.atime = n.ctime = Time{1700000000, 123400000, 3600};
  n.content = std::vector<Id>{};
  return n;
}

void ExpectCode(const Result<Tree>& r, ErrorCode code, const std::string& what) {
  ASSERT_FALSE(r) << what;
  EXPECT_EQ(r.error().Code(), code) << what << ": " << r.error().Message();
}

TEST(TreeTest, EncodesRestic014Bytes) {
  Tree tree;
  Node dir;
  dir.name = "dir";
  dir.type = NodeType::kDir;
  dir.mode = GoModeFromPosix(S_IFDIR | 0755);
  dir.mtime = dir.atime = dir.ctime = Time{1720000000, 5, 7200};
  dir.user = dir.group = "root";
  dir.inode = 10961205;
  dir.device_id = 65024;
  dir.subtree = IdOf('a');
  Node file = FileNode("f<&>\"\\");
  file.mtime = Time::Utc(0);
  file.uid = 1000;
  file.gid = 100;
  file.user = "u";
  file.size = 12;
  file.links = 2;
  file.content = std::vector<Id>{IdOf('b'), IdOf('c')};
  file.xattrs = {{"user.test", ToBytes("hello")}, {"user.empty", {}}};
  Node link;
  link.name = "link";
  link.type = NodeType::kSymlink;
  link.mode = GoModeFromPosix(S_IFLNK | 0777);
  link.mtime = link.atime = link.ctime = Time::Utc(1, 500000000);
  link.links = 1;
  link.linktarget = "../target";
  link.error = "lstat failed";
  tree.nodes = {dir, file, link};

  const std::string want =
      "{\"nodes\":["
      "{\"name\":\"dir\",\"type\":\"dir\",\"mode\":2147484141,"
      "\"mtime\":\"2024-07-03T11:46:40.000000005+02:00\","
      "\"atime\":\"2024-07-03T11:46:40.000000005+02:00\","
      "\"ctime\":\"2024-07-03T11:46:40.000000005+02:00\",\"uid\":0,\"gid\":0,"
      "\"user\":\"root\",\"group\":\"root\",\"inode\":10961205,\"device_id\":65024,"
      "\"content\":null,\"subtree\":\"" +
      std::string(64, 'a') +
      "\"},"
      "{\"name\":\"f\\u003c\\u0026\\u003e\\\\\\\"\\\\\\\\\",\"type\":\"file\",\"mode\":420,"
      "\"mtime\":\"1970-01-01T00:00:00Z\",\"atime\":\"2023-11-14T23:13:20.1234+01:00\","
      "\"ctime\":\"2023-11-14T23:13:20.1234+01:00\",\"uid\":1000,\"gid\":100,\"user\":\"u\","
      "\"size\":12,\"links\":2,\"extended_attributes\":[{\"name\":\"user.test\",\"value\":"
      "\"aGVsbG8=\"},{\"name\":\"user.empty\",\"value\":\"\"}],\"content\":[\"" +
      std::string(64, 'b') + "\",\"" + std::string(64, 'c') +
      "\"]},"
      "{\"name\":\"link\",\"type\":\"symlink\",\"mode\":134218239,"
      "\"mtime\":\"1970-01-01T00:00:01.5Z\",\"atime\":\"1970-01-01T00:00:01.5Z\","
      "\"ctime\":\"1970-01-01T00:00:01.5Z\",\"uid\":0,\"gid\":0,\"links\":1,"
      "\"linktarget\":\"../target\",\"content\":null,\"error\":\"lstat failed\"}"
      "]}\n";
  auto got = EncodeTree(tree);
  ASSERT_TRUE(got) << got.error().Message();
  EXPECT_EQ(*got, want);

  auto back = DecodeTree(*got);
  ASSERT_TRUE(back) << back.error().Message();
  EXPECT_EQ(*back, tree);
  EXPECT_EQ(back->nodes[0].mtime.utc_offset, 7200);
}

TEST(TreeTest, EmptyTree) {
  auto got = EncodeTree(Tree{});
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "{\"nodes\":[]}\n");
  auto back = DecodeTree(*got);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->nodes.empty());
}

TEST(TreeTest, ContentNullVersusEmpty) {
  Tree tree;
  tree.nodes = {FileNode("empty"), FileNode("fifo")};
  tree.nodes[1].type = NodeType::kFifo;
  tree.nodes[1].content.reset();
  auto got = EncodeTree(tree);
  ASSERT_TRUE(got);
  EXPECT_NE(got->find("\"name\":\"empty\",\"type\":\"file\",\"mode\":420,"), std::string::npos);
  EXPECT_NE(got->find("\"gid\":0,\"content\":[]}"), std::string::npos);
  EXPECT_NE(got->find("\"gid\":0,\"content\":null}"), std::string::npos);
  auto back = DecodeTree(*got);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, tree);
}

TEST(TreeTest, EncodeRejectsUnorderedDuplicateAndEmptyNames) {
  Tree tree;
  tree.nodes = {FileNode("b"), FileNode("a")};
  auto r = EncodeTree(tree);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);

  tree.nodes = {FileNode("a"), FileNode("a")};
  r = EncodeTree(tree);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);

  tree.nodes = {FileNode("")};
  r = EncodeTree(tree);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);

  // Bytewise order: "\xff" sorts after every ASCII name, "B" before "a".
  tree.nodes = {FileNode("B"), FileNode("a"), FileNode("\xff")};
  EXPECT_TRUE(EncodeTree(tree));
}

TEST(TreeTest, DecodeRejectsUnorderedDuplicateAndEmptyNames) {
  const std::string node_tail =
      R"(","type":"file","mtime":"2020-01-01T00:00:00Z","atime":"2020-01-01T00:00:00Z",)"
      R"("ctime":"2020-01-01T00:00:00Z","uid":0,"gid":0,"content":[]})";
  auto tree_of = [&](std::initializer_list<std::string> names) {
    std::string s = "{\"nodes\":[";
    bool first = true;
    for (const auto& n : names) {
      if (!first) s += ",";
      first = false;
      s += "{\"name\":\"" + n + node_tail;
    }
    return s + "]}\n";
  };
  ASSERT_TRUE(DecodeTree(tree_of({"a", "b"})));
  ExpectCode(DecodeTree(tree_of({"b", "a"})), ErrorCode::kCorruption, "unordered");
  ExpectCode(DecodeTree(tree_of({"a", "a"})), ErrorCode::kCorruption, "duplicate");
  ExpectCode(DecodeTree(tree_of({""})), ErrorCode::kCorruption, "empty");
  // Order is checked on the unquoted names: "\x41" is "A", a duplicate of "A".
  ExpectCode(DecodeTree(tree_of({"A", "\\\\x41"})), ErrorCode::kCorruption, "quoted duplicate");
  // "\xff" (quoted) sorts after "z" as raw bytes, though '\\' < 'z' in the quoted form.
  auto ok = DecodeTree(tree_of({"z", "\\\\xff"}));
  ASSERT_TRUE(ok) << ok.error().Message();
  EXPECT_EQ(ok->nodes[1].name, "\xff");
  ExpectCode(DecodeTree(tree_of({"\\\\xff", "z"})), ErrorCode::kCorruption, "raw order");
}

TEST(TreeTest, UnknownKeysAreIgnored) {
  const std::string json =
      R"({"future":[1,{"x":2}],"nodes":[{"name":"a","type":"file","new_field":{"deep":[null]},)"
      R"("mtime":"2020-01-01T00:00:00Z","atime":"2020-01-01T00:00:00Z",)"
      R"("ctime":"2020-01-01T00:00:00Z","uid":0,"gid":0,"content":[]}],"after":"x"})";
  auto tree = DecodeTree(json);
  ASSERT_TRUE(tree) << tree.error().Message();
  ASSERT_EQ(tree->nodes.size(), 1u);
  EXPECT_EQ(tree->nodes[0].name, "a");
}

TEST(TreeTest, AbsentAndNullMembersKeepGoZeroValues) {
  auto tree = DecodeTree(R"({"nodes":[{"name":"a","type":"dir","mode":null,"user":null}]})");
  ASSERT_TRUE(tree) << tree.error().Message();
  const Node& n = tree->nodes[0];
  EXPECT_EQ(n.mode, 0u);
  EXPECT_FALSE(n.content);
  EXPECT_FALSE(n.subtree);
  auto again = EncodeTree(*tree);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again,
            "{\"nodes\":[{\"name\":\"a\",\"type\":\"dir\",\"mtime\":\"0001-01-01T00:00:00Z\","
            "\"atime\":\"0001-01-01T00:00:00Z\",\"ctime\":\"0001-01-01T00:00:00Z\",\"uid\":0,"
            "\"gid\":0,\"content\":null}]}\n");
}

TEST(TreeTest, WrongTypesAreCorruption) {
  const std::string head = R"({"nodes":[{"name":"a","type":"file",)";
  const std::string tail = R"(}]})";
  const char* bad_members[] = {
      R"("mode":"420")",
      R"("mode":-1)",
      R"("mode":4294967296)",
      R"("mode":1.5)",
      R"("uid":1e3)",
      R"("gid":true)",
      R"("size":-5)",
      R"("inode":18446744073709551616)",
      R"("mtime":"yesterday")",
      R"("atime":12)",
      R"("user":7)",
      R"("linktarget":["x"])",
      R"("linktarget_raw":"not base64!")",
      R"("extended_attributes":{"name":"x"})",
      R"("extended_attributes":[{"name":"x","value":"%%%%"}])",
      R"("extended_attributes":["x"])",
      R"("generic_attributes":[1])",
      R"("device":"1")",
      R"("content":"abc")",
      R"("content":["abc"])",
      R"("content":[null])",
      R"("subtree":"0123")",
      R"("subtree":5)",
      R"("error":{})",
  };
  for (const char* member : bad_members) {
    ExpectCode(DecodeTree(head + member + tail), ErrorCode::kCorruption, member);
  }
  const char* bad_docs[] = {
      "",
      "{",
      "[]",
      "null",
      R"({"nodes":null})",
      R"({"nodes":{}})",
      R"({"other":[]})",
      R"({"nodes":[1]})",
      R"({"nodes":[{"name":"a","type":"blockdevice"}]})",
      R"({"nodes":[{"name":"a"}]})",
      R"({"nodes":[{"type":"file"}]})",
      R"({"nodes":[{"name":5,"type":"file"}]})",
      R"({"nodes":[{"name":"bad\\q","type":"file"}]})",
      R"({"nodes":[{"name":"a\"b","type":"file"}]})",  // unescaped quote after JSON decoding
  };
  for (const char* doc : bad_docs) {
    ExpectCode(DecodeTree(doc), ErrorCode::kCorruption, doc);
  }
}

TEST(TreeTest, DeepJsonIsRejected) {
  std::string deep = R"({"nodes":[{"name":"a","type":"file","x":)";
  for (int i = 0; i < 200; ++i) deep += "[";
  for (int i = 0; i < 200; ++i) deep += "]";
  deep += "}]}";
  ExpectCode(DecodeTree(deep), ErrorCode::kCorruption, "deep");
}

TEST(TreeTest, InvalidUtf8LinktargetRoundTripsViaLinktargetRaw) {
  Tree tree;
  Node link;
  link.name = "badlink";
  link.type = NodeType::kSymlink;
  link.mode = GoModeFromPosix(S_IFLNK | 0777);
  link.linktarget = "bad\xfftarget";
  tree.nodes = {link};
  auto got = EncodeTree(tree);
  ASSERT_TRUE(got);
  // restic 0.14 reads the lossy "linktarget"; 0.16+ and we prefer "linktarget_raw".
  EXPECT_NE(got->find(R"("linktarget":"bad\ufffdtarget","linktarget_raw":"YmFk/3RhcmdldA==",)"),
            std::string::npos)
      << *got;
  auto back = DecodeTree(*got);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->nodes[0].linktarget, "bad\xfftarget");

  // A valid UTF-8 target gets no linktarget_raw.
  tree.nodes[0].linktarget = "日本/é";
  got = EncodeTree(tree);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->find("linktarget_raw"), std::string::npos);
  EXPECT_NE(got->find(R"("linktarget":"日本/é")"), std::string::npos);

  // What restic 0.14 wrote for that link: only the lossy form.
  auto old = DecodeTree(
      R"({"nodes":[{"name":"badlink","type":"symlink","linktarget":"bad\ufffdtarget"}]})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->nodes[0].linktarget, "bad\xef\xbf\xbdtarget");

  // linktarget_raw wins, even when empty.
  auto raw_wins = DecodeTree(
      R"({"nodes":[{"name":"l","type":"symlink","linktarget":"x","linktarget_raw":""}]})");
  ASSERT_TRUE(raw_wins);
  EXPECT_EQ(raw_wins->nodes[0].linktarget, "");
}

TEST(TreeTest, GenericAttributesRoundTrip) {
  // As restic on Windows writes them: a map (keys sorted) of raw JSON values; the creation
  // time is a Go struct whose members are not in sorted order.
  const std::string json =
      R"({"nodes":[{"name":"f","type":"file","mtime":"2020-01-01T00:00:00Z",)"
      R"("atime":"2020-01-01T00:00:00Z","ctime":"2020-01-01T00:00:00Z","uid":0,"gid":0,)"
      R"("generic_attributes":{"windows.creation_time":{"LowDateTime":3462168,)"
      R"("HighDateTime":31066473},"windows.file_attributes":32,)"
      R"("windows.security_descriptor":"AQAEgBQAAAAkAAAAAAAAAAAAAAA=","z.\u003cx\u003e":[true,null,-1,"é"]},)"
      R"("content":[]}]})"
      "\n";
  auto tree = DecodeTree(json);
  ASSERT_TRUE(tree) << tree.error().Message();
  const OrderedJson& ga = tree->nodes[0].generic_attributes;
  ASSERT_TRUE(ga.is_object());
  EXPECT_EQ(ga["windows.file_attributes"], 32);
  auto again = EncodeTree(*tree);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, json);

  // Keys are written sorted whatever order they were inserted in; empty and null are omitted.
  Tree built;
  built.nodes = {FileNode("f")};
  built.nodes[0].generic_attributes = OrderedJson::object();
  built.nodes[0].generic_attributes["windows.z"] = 1;
  built.nodes[0].generic_attributes["windows.a"] = "x";
  auto enc = EncodeTree(built);
  ASSERT_TRUE(enc);
  EXPECT_NE(enc->find(R"("generic_attributes":{"windows.a":"x","windows.z":1},)"),
            std::string::npos)
      << *enc;
  built.nodes[0].generic_attributes = OrderedJson::object();
  enc = EncodeTree(built);
  ASSERT_TRUE(enc);
  EXPECT_EQ(enc->find("generic_attributes"), std::string::npos);
  built.nodes[0].generic_attributes = nullptr;
  enc = EncodeTree(built);
  ASSERT_TRUE(enc);
  EXPECT_EQ(enc->find("generic_attributes"), std::string::npos);
  built.nodes[0].generic_attributes = OrderedJson::array({1});
  enc = EncodeTree(built);
  ASSERT_FALSE(enc);
  EXPECT_EQ(enc.error().Code(), ErrorCode::kInvalidArgument);
}

TEST(TreeTest, StringsUseGoJsonEscapes) {
  Tree tree;
  tree.nodes = {FileNode("x")};
  tree.nodes[0].user = "a<b>&\u2028";
  tree.nodes[0].group = "bad\xff";  // encoding/json replaces invalid UTF-8 with U+FFFD
  tree.nodes[0].xattrs = {{"user.<x>", Bytes{0x00, 0xff, 0x10}}};
  auto got = EncodeTree(tree);
  ASSERT_TRUE(got);
  EXPECT_NE(got->find(R"("user":"a\u003cb\u003e\u0026\u2028","group":"bad\ufffd",)"),
            std::string::npos)
      << *got;
  EXPECT_NE(got->find(R"({"name":"user.\u003cx\u003e","value":"AP8Q"})"), std::string::npos)
      << *got;
  auto back = DecodeTree(*got);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->nodes[0].xattrs, tree.nodes[0].xattrs);
  EXPECT_EQ(back->nodes[0].user, tree.nodes[0].user);
}

TEST(TreeTest, InvalidUtf8NamesRoundTrip) {
  Tree tree;
  tree.nodes = {FileNode("a\nb"), FileNode("\xc3\xa9"), FileNode("\xff\xfe")};
  auto got = EncodeTree(tree);
  ASSERT_TRUE(got);
  EXPECT_NE(got->find(R"("name":"a\\nb")"), std::string::npos) << *got;
  EXPECT_NE(got->find(R"("name":"é")"), std::string::npos) << *got;
  EXPECT_NE(got->find(R"("name":"\\xff\\xfe")"), std::string::npos) << *got;
  auto back = DecodeTree(*got);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, tree);
}

TEST(TreeBlobsTest, SameReferencesAsTheFullDecoder) {
  Tree tree;
  Node dir = FileNode("a-dir");
  dir.type = NodeType::kDir;
  dir.content.reset();
  dir.subtree = IdOf('1');
  Node file = FileNode("b-file");
  file.content = std::vector<Id>{IdOf('2'), IdOf('3'), IdOf('2')};
  file.xattrs = {{"user.k", Bytes{0x76}}};
  file.generic_attributes = OrderedJson::parse(R"({"w":{"subtree":"x","content":[1]}})");
  Node link = FileNode("c-link");
  link.type = NodeType::kSymlink;
  link.content.reset();
  link.linktarget = "a-dir";
  Node odd = FileNode("d-file-with-subtree");  // not a directory: its subtree is not walked
  odd.subtree = IdOf('4');
  odd.content = std::vector<Id>{IdOf('5')};
  tree.nodes = {dir, file, link, odd};
  auto json = EncodeTree(tree);
  ASSERT_TRUE(json);
  auto blobs = DecodeTreeBlobs(*json);
  ASSERT_TRUE(blobs) << blobs.error().Message();
  EXPECT_EQ(blobs->subtrees, std::vector<Id>{IdOf('1')});
  EXPECT_EQ(blobs->content, (std::vector<Id>{IdOf('2'), IdOf('3'), IdOf('2'), IdOf('5')}));
  // A member given twice counts once, with its last value, as in DecodeTree.
  auto twice = DecodeTreeBlobs(R"({"nodes":[{"name":"f","type":"dir","subtree":")" +
                               IdOf('6').Hex() + R"(","content":[")" + IdOf('7').Hex() +
                               R"("],"content":null,"subtree":")" + IdOf('8').Hex() + R"("}]})");
  ASSERT_TRUE(twice) << twice.error().Message();
  EXPECT_EQ(twice->subtrees, std::vector<Id>{IdOf('8')});
  EXPECT_TRUE(twice->content.empty());
}

TEST(TreeBlobsTest, DamageIsCorruption) {
  std::string id = IdOf('a').Hex();
  for (const std::string& bad : std::vector<std::string>{
           "", "[]", R"({"nodes":{}})", R"({"nodes":[1]})", R"({"nodes":[{"type":"file"}]})",
           R"({"nodes":[{"name":"f","type":"fifo-ish"}]})",
           R"({"nodes":[{"name":"f","type":"file","content":")" + id + R"("}]})",
           R"({"nodes":[{"name":"f","type":"file","content":["abc"]}]})",
           R"({"nodes":[{"name":"f","type":"file","content":[null]}]})",
           R"({"nodes":[{"name":"d","type":"dir","subtree":7}]})",
           R"({"nodes":[{"name":"d","type":"dir","subtree":")" + id + R"("}]}{)",
           R"({"nodes":[],"x":)" + std::string(1000, '[') + std::string(1000, ']') + "}"}) {
    auto r = DecodeTreeBlobs(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().Code(), ErrorCode::kCorruption) << bad;
  }
}

TEST(NodeTest, GenericAttributesCompareAsMapAtTopLevel) {
  Node a = FileNode("f");
  Node b = FileNode("f");
  a.generic_attributes = OrderedJson::parse(R"({"x":1,"y":{"p":1,"q":2}})");
  b.generic_attributes = OrderedJson::parse(R"({"y":{"p":1,"q":2},"x":1})");
  EXPECT_EQ(a, b);  // written identically: top-level keys are sorted
  b.generic_attributes = OrderedJson::parse(R"({"y":{"q":2,"p":1},"x":1})");
  EXPECT_NE(a, b);  // nested members are written in stored order, so they differ
  b.generic_attributes = OrderedJson::parse(R"({"x":1})");
  EXPECT_NE(a, b);
  b.generic_attributes = nullptr;
  EXPECT_NE(a, b);
  a.generic_attributes = nullptr;
  EXPECT_EQ(a, b);
  b.mtime.nanos += 1;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace halley::snapshot
