// SPDX-License-Identifier: Apache-2.0
// Archiver and restorer together, on a real temporary directory and an in-memory vault.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "base/json.h"
#include "crypto/hash.h"
#include "engine/archiver.h"
#include "engine/restorer.h"
#include "engine/snapshots.h"
#include "snapshot/tree.h"
#include "storage/mem_blob_store.h"

namespace halley::engine {
namespace {

namespace stdfs = std::filesystem;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "halley-engine-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    src_ = dir_ + "/src";
    stdfs::create_directories(src_);
    repo::InitOptions init;
    init.kdf = {1024, 8, 1};
    repo_ = std::move(*repo::Repository::Init(store_, "pw", init));
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& content) {
    stdfs::create_directories(stdfs::path(src_ + "/" + rel).parent_path());
    std::ofstream(src_ + "/" + rel, std::ios::binary) << content;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::string Random(size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }

  // Makes repo_ a fresh vault cutting chunks of 64 B to 1 KiB, so that blobs share pages.
  void UseSmallChunks() {
    repo::InitOptions init;
    init.kdf = {1024, 8, 1};
    init.config = repo::Config::New();
    init.config->gear->min_size = 64;
    init.config->gear->avg_size = 256;
    init.config->gear->max_size = 1024;
    repo_ = std::move(*repo::Repository::Init(small_chunks_store_, "pw", init));
  }

  Result<BackupResult> RunBackup(BackupProgress* progress = nullptr, bool rescan = false,
                                 const Filter* filter = nullptr) {
    BackupOptions o;
    o.paths = {src_};
    o.progress = progress;
    o.rescan_unchanged = rescan;
    o.filter = filter;
    return Backup(*repo_, o);
  }
  Result<RestoreResult> RunRestore(
      const Id& tree, const std::string& target, const std::string& path,
      Overwrite ow = Overwrite::kAlways,
      uint64_t direct_io_min_size = RestoreOptions().direct_io_min_size) {
    RestoreOptions o;
    o.target = target;
    o.path = path;
    o.overwrite = ow;
    o.direct_io_min_size = direct_io_min_size;
    return Restore(*repo_, tree, o);
  }

  std::string dir_, src_;
  storage::MemBlobStore store_;
  storage::MemBlobStore small_chunks_store_;  // for UseSmallChunks
  std::unique_ptr<repo::Repository> repo_;
};

TEST_F(EngineTest, RoundTripWithMetadata) {
  Write("a.txt", "hello");
  Write("empty", "");
  Write("sub/deeper/big.bin", Random(3 << 20, 1));
  ASSERT_EQ(::symlink("../a.txt", (src_ + "/sub/link").c_str()), 0);
  ASSERT_EQ(::symlink("/nonexistent/target", (src_ + "/dangling").c_str()), 0);
  ASSERT_EQ(::mkfifo((src_ + "/fifo").c_str(), 0640), 0);
  ASSERT_EQ(::link((src_ + "/a.txt").c_str(), (src_ + "/hard").c_str()), 0);
  ASSERT_EQ(::chmod((src_ + "/a.txt").c_str(), 0751), 0);
  struct timespec times[2] = {{1000, 5}, {1234567890, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ + "/a.txt").c_str(), times, 0), 0);

  auto b = RunBackup();
  ASSERT_TRUE(b) << b.error().Message();
  EXPECT_TRUE(b->errors.empty());
  EXPECT_EQ(b->snapshot.paths, std::vector<std::string>{src_});
  EXPECT_EQ(b->snapshot.summary->files_new, 4u);

  std::string out = dir_ + "/out";
  auto r = RunRestore(b->snapshot.tree, out, src_);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_TRUE(r->errors.empty()) << r->errors[0].second.Message();
  EXPECT_EQ(Read(out + "/a.txt"), "hello");
  EXPECT_EQ(Read(out + "/sub/deeper/big.bin"), Read(src_ + "/sub/deeper/big.bin"));
  EXPECT_EQ(stdfs::file_size(out + "/empty"), 0u);
  EXPECT_EQ(stdfs::read_symlink(out + "/sub/link"), "../a.txt");
  EXPECT_EQ(stdfs::read_symlink(out + "/dangling"), "/nonexistent/target");
  struct stat st {};
  ASSERT_EQ(::lstat((out + "/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::stat((out + "/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234567890);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_nlink, 2u);
  struct stat hard {};
  ASSERT_EQ(::stat((out + "/hard").c_str(), &hard), 0);
  EXPECT_EQ(hard.st_ino, st.st_ino) << "hardlinks are restored as hardlinks";
}

TEST_F(EngineTest, UnchangedFilesAreNotReadAgain) {
  Write("one", Random(1 << 20, 2));
  Write("two", Random(100000, 3));
  BackupProgress first;
  auto b1 = RunBackup(&first);
  ASSERT_TRUE(b1);
  EXPECT_EQ(first.bytes_read.load(), (1u << 20) + 100000u);

  BackupProgress second;
  auto b2 = RunBackup(&second);
  ASSERT_TRUE(b2);
  EXPECT_EQ(second.bytes_read.load(), 0u);
  EXPECT_EQ(b2->parent, b1->snapshot_id);
  EXPECT_EQ(b2->snapshot.summary->files_unmodified, 2u);
  EXPECT_EQ(FindNode(*repo_, b2->snapshot.tree, src_)->subtree,
            FindNode(*repo_, b1->snapshot.tree, src_)->subtree)
      << "nothing changed: same tree";

  Write("two", Random(100000, 4));  // new content, new mtime/ctime
  BackupProgress third;
  auto b3 = RunBackup(&third);
  ASSERT_TRUE(b3);
  EXPECT_EQ(third.bytes_read.load(), 100000u);
  EXPECT_EQ(b3->snapshot.summary->files_changed, 1u);

  BackupProgress rescan;
  auto b4 = RunBackup(&rescan, /*rescan=*/true);
  ASSERT_TRUE(b4);
  EXPECT_EQ(rescan.bytes_read.load(), (1u << 20) + 100000u);
  EXPECT_EQ(b4->snapshot.summary->data_blobs, 0u) << "rescanning adds nothing new";
}

// An unchanged directory takes its tree from the parent snapshot instead of encoding its nodes
// again. A new local time zone changes how times are spelled, not what they are: with the old
// trees reused, the second backup adds no tree for what it backs up.
TEST_F(EngineTest, UnchangedDirectoriesKeepTheirTrees) {
  const char* tz = std::getenv("TZ");
  const std::optional<std::string> saved_tz = tz ? std::optional<std::string>(tz) : std::nullopt;
  struct RestoreTz {
    const std::optional<std::string>& tz;
    ~RestoreTz() {
      tz ? ::setenv("TZ", tz->c_str(), 1) : ::unsetenv("TZ");
      ::tzset();
    }
  } restore_tz{saved_tz};
  Write("a", "one");
  Write("sub/b", "two");
  Write("sub/deeper/c", "three");
  ::setenv("TZ", "UTC0", 1);
  ::tzset();
  ASSERT_TRUE(RunBackup());  // its listing may move the directories' atimes (relatime)
  auto b1 = RunBackup();
  ASSERT_TRUE(b1);
  ::setenv("TZ", "JST-9", 1);
  ::tzset();
  auto b2 = RunBackup();
  ASSERT_TRUE(b2);
  // The directories above src_ are the shared temporary directory and its ancestors, which
  // other tests running at the same time change: new trees may be written for them only.
  EXPECT_EQ(FindNode(*repo_, b2->snapshot.tree, src_)->subtree,
            FindNode(*repo_, b1->snapshot.tree, src_)->subtree);
  const auto ancestors = static_cast<uint64_t>(std::count(src_.begin(), src_.end(), '/'));
  EXPECT_LE(b2->snapshot.summary->tree_blobs, ancestors);
  EXPECT_GE(b2->snapshot.summary->dirs_unmodified, 3u) << "src, sub, sub/deeper";

  // A mode is part of the node: the directory that holds the file, and those above it, change;
  // the one beside it does not.
  ASSERT_EQ(::chmod((src_ + "/sub/b").c_str(), 0600), 0);
  auto b3 = RunBackup();
  ASSERT_TRUE(b3);
  EXPECT_NE(FindNode(*repo_, b3->snapshot.tree, src_ + "/sub")->subtree,
            FindNode(*repo_, b2->snapshot.tree, src_ + "/sub")->subtree);
  EXPECT_NE(b3->snapshot.tree, b2->snapshot.tree);
  EXPECT_EQ(FindNode(*repo_, b3->snapshot.tree, src_ + "/sub/deeper")->subtree,
            FindNode(*repo_, b2->snapshot.tree, src_ + "/sub/deeper")->subtree);
  EXPECT_EQ(FindNode(*repo_, b3->snapshot.tree, src_ + "/sub/b")->mode & 0777, 0600u);
}

TEST_F(EngineTest, XattrsFollowEachBackup) {
  Write("f", "data");
  Write("d/g", "more");
  const std::string f = src_ + "/f", d = src_ + "/d";
  if (::setxattr(f.c_str(), "user.a", "1", 1, 0) != 0) GTEST_SKIP() << "no user xattrs here";
  ASSERT_EQ(::setxattr(d.c_str(), "user.dir", "x", 1, 0), 0);
  auto xattrs = [&](const Id& tree, const std::string& path) {
    auto node = FindNode(*repo_, tree, path);
    std::string out;
    for (const auto& a : node->xattrs) {
      out += a.name + "=" + ToString(a.value) + ";";
    }
    return out;
  };
  auto b1 = RunBackup();
  ASSERT_TRUE(b1);
  EXPECT_EQ(xattrs(b1->snapshot.tree, f), "user.a=1;") << "read from the open file";
  EXPECT_EQ(xattrs(b1->snapshot.tree, d), "user.dir=x;");

  auto b2 = RunBackup();
  ASSERT_TRUE(b2);
  EXPECT_EQ(xattrs(b2->snapshot.tree, f), "user.a=1;") << "kept from the parent";
  EXPECT_EQ(xattrs(b2->snapshot.tree, d), "user.dir=x;");

  // Only the attributes change (and with them the ctime), not the content or mtime.
  ASSERT_EQ(::setxattr(f.c_str(), "user.a", "2", 1, 0), 0);
  ASSERT_EQ(::setxattr(f.c_str(), "user.b", "3", 1, 0), 0);
  ASSERT_EQ(::removexattr(d.c_str(), "user.dir"), 0);
  BackupProgress third;
  auto b3 = RunBackup(&third);
  ASSERT_TRUE(b3);
  EXPECT_EQ(xattrs(b3->snapshot.tree, f), "user.a=2;user.b=3;");
  EXPECT_EQ(xattrs(b3->snapshot.tree, d), "");
  EXPECT_EQ(third.bytes_read.load(), 4u) << "a new ctime makes the file read again";
}

TEST_F(EngineTest, ExcludesAndSubpathRestore) {
  Write("keep/a", "a");
  Write("keep/b.tmp", "b");
  Write("drop/c", "c");
  Filter f;
  ASSERT_TRUE(f.AddExcludeGlob("*.tmp"));
  ASSERT_TRUE(f.AddExcludeGlob(src_ + "/drop"));
  auto b = RunBackup(nullptr, false, &f);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->snapshot.excludes.size(), 2u);
  std::string out = dir_ + "/out";
  auto r = RunRestore(b->snapshot.tree, out, src_ + "/keep");
  ASSERT_TRUE(r);
  EXPECT_EQ(Read(out + "/a"), "a");
  EXPECT_FALSE(stdfs::exists(out + "/b.tmp"));
  EXPECT_FALSE(stdfs::exists(out + "/drop"));
  EXPECT_EQ(RunRestore(b->snapshot.tree, out, src_ + "/drop").error().Code(), ErrorCode::kNotFound);
}

TEST_F(EngineTest, SparseFilesStaySparse) {
  int fd = ::open((src_ + "/sparse").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 64 << 20), 0);
  ASSERT_EQ(::pwrite(fd, "x", 1, 30 << 20), 1);
  ::close(fd);
  auto b = RunBackup();
  ASSERT_TRUE(b);
  std::string out = dir_ + "/out";
  ASSERT_TRUE(RunRestore(b->snapshot.tree, out, src_));
  struct stat st {};
  ASSERT_EQ(::stat((out + "/sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "holes were written out";
  EXPECT_EQ(Read(out + "/sparse"), Read(src_ + "/sparse"));
}

// The fraction of a file's pages in the page cache (mincore).
double CachedFraction(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  EXPECT_NE(map, MAP_FAILED);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((size + page - 1) / page);
  EXPECT_EQ(::mincore(map, size, vec.data()), 0);
  ::munmap(map, size);
  size_t cached = 0;
  for (unsigned char v : vec) cached += v & 1;
  return static_cast<double>(cached) / static_cast<double>(vec.size());
}

// Restored with O_DIRECT (whole pages) and through the page cache (blob edges, pages of
// zeros left as holes), every byte comes back: zero runs at odd offsets, a trailing zero run,
// a file shorter than a page, whole pages, repeated blobs, an empty file.
TEST_F(EngineTest, DirectWritesKeepEveryByte) {
  std::string mixed = Random(5 << 20, 11);
  std::fill_n(mixed.begin() + 100001, 20000, '\0');
  std::fill_n(mixed.begin() + (1 << 20), 65536, '\0');  // a hole (blob edges aside)
  std::fill_n(mixed.end() - 10007, 10007, '\0');
  const std::string block = Random(3 << 20, 12);
  const std::map<std::string, std::string> files = {{"mixed", mixed},
                                                    {"small", Random(3000, 13)},
                                                    {"pages", Random(4 << 20, 14)},
                                                    {"repeated", block + block + block},
                                                    {"empty", ""}};
  for (const auto& [name, content] : files) Write(name, content);
  auto b = RunBackup();
  ASSERT_TRUE(b);
  for (uint64_t min_size : {uint64_t{0}, UINT64_MAX}) {
    std::string out = dir_ + "/out" + std::to_string(min_size);
    auto r = RunRestore(b->snapshot.tree, out, src_, Overwrite::kAlways, min_size);
    ASSERT_TRUE(r) << r.error().Message();
    EXPECT_TRUE(r->errors.empty());
    for (const auto& [name, content] : files) {
      struct stat st {};
      ASSERT_EQ(::stat((out + "/" + name).c_str(), &st), 0);
      EXPECT_EQ(static_cast<size_t>(st.st_size), content.size()) << name;
      if (name == "mixed") {
        // Holes again, also where blocks were reserved up front for direct writes.
        EXPECT_LE(static_cast<size_t>(st.st_blocks) * 512, content.size() - 32768) << min_size;
      }
      if (name == "pages" && min_size == 0) {
        struct statx sx {};
        bool direct = ::statx(AT_FDCWD, (out + "/pages").c_str(), 0, STATX_DIOALIGN, &sx) == 0 &&
                      (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align != 0;
        // Written with O_DIRECT, the inner pages never entered the page cache.
        if (direct) {
          EXPECT_LT(CachedFraction(out + "/pages"), 0.5);
        }
      }
      EXPECT_TRUE(Read(out + "/" + name) == content) << name << " restored differently";
    }
  }
}

// With direct writes, a page holding the edges of several blobs is assembled in memory and
// written whole. Blobs far out of file order leave many pages waiting; past a bound, the file's
// edges go through the page cache instead, and every byte must still land.
TEST_F(EngineTest, DirectWritesAssembleSharedPages) {
  UseSmallChunks();
  const std::string source = Random(8 << 20, 21);
  // The same 4 KiB blocks, shuffled: restored in the source's blob order, nearly every page of
  // the shuffled file waits for the blobs cut across its block seams, which come last.
  std::vector<size_t> blocks(source.size() / 4096);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = i;
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937_64(22));
  std::string shuffled;
  for (size_t i : blocks) shuffled += source.substr(i * 4096, 4096);
  shuffled += "tail";
  // Fewer pages than may wait, so all of them are assembled, whatever the blob order.
  const std::string small = Random(1 << 20, 23);
  Write("1source", source);
  Write("2shuffled", shuffled);
  Write("3small", small);
  auto b = RunBackup();
  ASSERT_TRUE(b);
  std::string out = dir_ + "/out";
  auto r = RunRestore(b->snapshot.tree, out, src_, Overwrite::kAlways, 0);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_TRUE(r->errors.empty());
  struct statx sx {};
  if (::statx(AT_FDCWD, (out + "/3small").c_str(), 0, STATX_DIOALIGN, &sx) == 0 &&
      (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align != 0) {
    // Assembled pages went direct; the shuffled file's edges were sent through the cache.
    // (Checked before reading the files, which caches them.)
    EXPECT_LT(CachedFraction(out + "/3small"), 0.25);
    EXPECT_GT(CachedFraction(out + "/2shuffled"), 0.5);
  }
  EXPECT_TRUE(Read(out + "/1source") == source);
  EXPECT_TRUE(Read(out + "/2shuffled") == shuffled);
  EXPECT_TRUE(Read(out + "/3small") == small);
}

// A blob that fails to decode fails its files, with direct writes of their other blobs still
// queued: they are reported, their temporary files are removed, and the other files land.
TEST_F(EngineTest, DamagedBlobFailsItsFileWhileDirectWritesAreQueued) {
  const std::string good = Random(6 << 20, 31), bad = Random(6 << 20, 32);
  Write("good", good);
  Write("bad", bad);
  auto b = RunBackup();
  ASSERT_TRUE(b);
  auto node = FindNode(*repo_, b->snapshot.tree, src_ + "/bad");
  ASSERT_TRUE(node && node->content && node->content->size() >= 3);
  const Id victim = (*node->content)[node->content->size() / 2];
  auto loc = repo_->GetIndex().Lookup(repo::BlobType::kData, victim);
  ASSERT_TRUE(loc);
  const storage::ObjectHandle pack{storage::ObjectType::kData, loc->pack.Hex()};
  Bytes bytes = *store_.Get(pack);
  bytes[loc->offset + loc->length / 2] ^= 1;
  ASSERT_TRUE(store_.Remove(pack));
  ASSERT_TRUE(store_.Put(pack, bytes));
  auto good_node = FindNode(*repo_, b->snapshot.tree, src_ + "/good");
  const bool good_shares = std::find(good_node->content->begin(), good_node->content->end(),
                                     victim) != good_node->content->end();

  std::string out = dir_ + "/out";
  auto r = RunRestore(b->snapshot.tree, out, src_, Overwrite::kAlways, 0);
  ASSERT_TRUE(r) << r.error().Message();
  ASSERT_EQ(r->errors.size(), good_shares ? 2u : 1u);
  EXPECT_FALSE(stdfs::exists(out + "/bad"));
  if (!good_shares) {
    EXPECT_TRUE(Read(out + "/good") == good);
  }
  for (const auto& e : stdfs::directory_iterator(out)) {
    EXPECT_EQ(e.path().filename().string().rfind(".halley-restore-", 0), std::string::npos)
        << "left behind: " << e.path();
  }
}

// Blobs that repeat within a file and across files are read once and written everywhere.
TEST_F(EngineTest, RepeatedBlobsRestoreEverywhere) {
  const std::string block = Random(6 << 20, 7);
  const std::string repeated = block + block + block + Random(1 << 20, 8) + block;
  Write("a/repeated", repeated);
  Write("b/copy", repeated);
  Write("b/once", block);
  auto b = RunBackup();
  ASSERT_TRUE(b);
  auto node = FindNode(*repo_, b->snapshot.tree, src_ + "/a/repeated");
  ASSERT_TRUE(node && node->content);
  std::set<Id> distinct(node->content->begin(), node->content->end());
  ASSERT_LT(distinct.size(), node->content->size()) << "the chunker found no repeats";
  std::string out = dir_ + "/out";
  ASSERT_TRUE(RunRestore(b->snapshot.tree, out, src_));
  EXPECT_TRUE(Read(out + "/a/repeated") == repeated);
  EXPECT_TRUE(Read(out + "/b/copy") == repeated);
  EXPECT_TRUE(Read(out + "/b/once") == block);
}

TEST_F(EngineTest, OverwriteModes) {
  Write("f", "snapshot version");
  auto b = RunBackup();
  ASSERT_TRUE(b);
  std::string out = dir_ + "/out";
  stdfs::create_directories(out);
  std::ofstream(out + "/f") << "local";
  ASSERT_TRUE(RunRestore(b->snapshot.tree, out, src_, Overwrite::kNever));
  EXPECT_EQ(Read(out + "/f"), "local");
  ASSERT_TRUE(RunRestore(b->snapshot.tree, out, src_, Overwrite::kIfNewer));
  EXPECT_EQ(Read(out + "/f"), "local") << "the local file is newer";
  ASSERT_TRUE(RunRestore(b->snapshot.tree, out, src_, Overwrite::kIfDifferent));
  EXPECT_EQ(Read(out + "/f"), "snapshot version");
  std::ofstream(out + "/f") << "changed again";
  ASSERT_TRUE(RunRestore(b->snapshot.tree, out, src_, Overwrite::kAlways));
  EXPECT_EQ(Read(out + "/f"), "snapshot version");
}

TEST_F(EngineTest, HostileNamesAreRefusedAndNothingEscapes) {
  // A tree written with the vault key by someone else, with names that would leave the target
  // (in byte order, as a tree must be).
  Write("ok", "fine");
  auto b = RunBackup();
  ASSERT_TRUE(b);
  snapshot::Node file = *FindNode(*repo_, b->snapshot.tree, src_ + "/ok");
  std::string enc = *snapshot::EncodeTree({{file}});
  const std::string prefix = "{\"nodes\":[";
  std::string node_json = enc.substr(prefix.size(), enc.size() - prefix.size() - 3);
  std::string json = prefix;
  for (const char* name : {".", "..", "../escape", "a/b", "ok"}) {
    std::string n = node_json;
    std::string quoted;
    AppendGoJsonString(quoted, name);
    n.replace(n.find("\"ok\""), 4, quoted);
    json += n + (std::string(name) == "ok" ? "" : ",");
  }
  json += "]}\n";
  ASSERT_TRUE(snapshot::DecodeTree(json)) << json;
  Id tree_id = crypto::Sha256(AsBytes(json));
  ASSERT_TRUE(repo_->SaveBlob(repo::BlobType::kTree, tree_id, AsBytes(json)));
  ASSERT_TRUE(repo_->Flush());
  std::string out = dir_ + "/target/inner";
  auto r = RunRestore(tree_id, out, "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(Read(out + "/ok"), "fine");
  EXPECT_EQ(r->errors.size(), 4u);
  EXPECT_FALSE(stdfs::exists(dir_ + "/target/escape"));
  EXPECT_FALSE(stdfs::exists(dir_ + "/escape"));
  size_t entries = 0;
  for (auto& e : stdfs::directory_iterator(dir_ + "/target")) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1u) << "only inner/ exists beside the target";
  entries = 0;
  for (auto& e : stdfs::directory_iterator(out)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1u) << "only ok was restored";
}

TEST_F(EngineTest, CancelledBackupWritesNoSnapshot) {
  Write("a", Random(1 << 20, 9));
  std::stop_source stop;
  stop.request_stop();
  BackupOptions o;
  o.paths = {src_};
  o.stop = stop.get_token();
  auto b = Backup(*repo_, o);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().Code(), ErrorCode::kCancelled);
  auto snaps = ListSnapshots(*repo_);
  ASSERT_TRUE(snaps);
  EXPECT_TRUE(snaps->empty());
}

TEST_F(EngineTest, MissingPathsFail) {
  BackupOptions o;
  o.paths = {dir_ + "/does-not-exist"};
  auto b = Backup(*repo_, o);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().Code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace halley::engine
