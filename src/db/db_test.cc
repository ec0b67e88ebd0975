// SPDX-License-Identifier: Apache-2.0
#include "db/db.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/test_util.h"

namespace halley::db {
namespace {

using ::halley::testutil::FailsWith;
using ::halley::testutil::Succeeds;
using ::halley::testutil::TempDir;

class DbTest : public ::testing::Test {
 protected:
  Database OpenOrDie(const std::string& path, OpenOptions opts = {}) {
    auto db = Database::Open(path, opts);
    HALLEY_CHECK(db.has_value());
    return std::move(*db);
  }
  // The single value of a one-row, one-column query.
  static Value Scalar(Database& db, std::string_view sql) {
    auto rows = db.Query(sql);
    HALLEY_CHECK(rows.has_value() && rows->size() == 1 && (*rows)[0].Size() == 1);
    return (*rows)[0].Get(0);
  }
  TempDir dir_;
};

TEST_F(DbTest, OpenCreatesPrivateFileWithDurableSettings) {
  // A permissive umask must not leak into the file's mode.
  const mode_t old_umask = ::umask(0);
  auto db = Database::Open(dir_.Sub("a.db"));
  ::umask(old_umask);
  ASSERT_TRUE(Succeeds(db));
  struct stat st;
  ASSERT_EQ(::stat(dir_.Sub("a.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(db->Path(), dir_.Sub("a.db"));

  EXPECT_EQ(Scalar(*db, "PRAGMA journal_mode"), Value(std::string("wal")));
  EXPECT_EQ(Scalar(*db, "PRAGMA synchronous"), Value(int64_t{2}));  // FULL
  EXPECT_EQ(Scalar(*db, "PRAGMA foreign_keys"), Value(int64_t{1}));

  // The WAL file SQLite creates on the first write copies the database file's mode.
  ASSERT_TRUE(Succeeds(db->Exec("CREATE TABLE t (x)")));
  ASSERT_EQ(::stat(dir_.Sub("a.db-wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // Nor may a umask that removes the owner's write bit make the file unwritable.
  ::umask(0277);
  auto strict = Database::Open(dir_.Sub("b.db"));
  ::umask(old_umask);
  ASSERT_TRUE(Succeeds(strict));
  ASSERT_EQ(::stat(dir_.Sub("b.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(DbTest, OpenKeepsExistingDataAndMode) {
  {
    Database db = OpenOrDie(dir_.Sub("a.db"));
    ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (7);")));
  }
  ASSERT_EQ(::chmod(dir_.Sub("a.db").c_str(), 0640), 0);
  Database db = OpenOrDie(dir_.Sub("a.db"));
  EXPECT_EQ(Scalar(db, "SELECT x FROM t"), Value(int64_t{7}));
  struct stat st;
  ASSERT_EQ(::stat(dir_.Sub("a.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(DbTest, OpenInMissingDirectoryFailsNamingThePath) {
  const std::string path = dir_.Sub("missing/a.db");
  auto db = Database::Open(path);
  ASSERT_TRUE(FailsWith(db, ErrorCode::kIoError));
  EXPECT_NE(db.error().Message().find(path), std::string::npos) << db.error().Message();
}

TEST_F(DbTest, OpenRejectsPathsSqliteTreatsSpecially) {
  EXPECT_TRUE(FailsWith(Database::Open(""), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(Database::Open(":memory:"), ErrorCode::kInvalidArgument));
}

TEST_F(DbTest, OpenRejectsFileThatIsNotADatabase) {
  std::ofstream(dir_.Sub("junk.db"), std::ios::binary)
      << std::string(8192, 'x');  // not "SQLite format 3\0"
  EXPECT_TRUE(FailsWith(Database::Open(dir_.Sub("junk.db")), ErrorCode::kCorruption));
}

TEST_F(DbTest, RoundTripsEveryValueType) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")));
  const Bytes blob = {0x00, 0x01, 0x00, 0xff, 0x00};
  const std::string text_with_nul("a\0b", 3);
  const std::vector<Value> values = {
      nullptr, int64_t{0}, int64_t{-1},   int64_t{INT64_MAX},   int64_t{INT64_MIN},
      1.5,     -0.25,      std::string(), std::string("héllo"), text_with_nul,
      Bytes(), blob,
  };
  for (size_t i = 0; i < values.size(); ++i) {
    auto changed =
        db.Execute("INSERT INTO t (id, v) VALUES (?, ?)", {static_cast<int64_t>(i), values[i]});
    ASSERT_TRUE(Succeeds(changed)) << i;
    EXPECT_EQ(*changed, 1);
  }
  auto rows = db.Query("SELECT v, typeof(v) FROM t ORDER BY id");
  ASSERT_TRUE(Succeeds(rows));
  ASSERT_EQ(rows->size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ((*rows)[i].Get(0), values[i]) << i;
  }
  // Strings are TEXT and Bytes are BLOB, even when empty (a null pointer would bind NULL).
  EXPECT_EQ((*rows)[0].Text(1), "null");
  EXPECT_EQ((*rows)[7].Text(1), "text");
  EXPECT_EQ((*rows)[10].Text(1), "blob");
  EXPECT_EQ((*rows)[11].Text(1), "blob");

  // Typed accessors.
  EXPECT_TRUE((*rows)[0].IsNull(0));
  EXPECT_FALSE((*rows)[1].IsNull(0));
  EXPECT_EQ((*rows)[3].Int(0), INT64_MAX);
  EXPECT_EQ((*rows)[5].Double(0), 1.5);
  EXPECT_EQ((*rows)[2].Double(0), -1.0);
  EXPECT_EQ((*rows)[9].Text(0), text_with_nul);
  EXPECT_EQ((*rows)[11].Blob(0), blob);
  EXPECT_TRUE((*rows)[10].Blob(0).empty());
}

TEST(RowDeathTest, TypedAccessorAbortsOnWrongTypeOrIndex) {
  Row row({std::string("x")});
  EXPECT_DEATH((void)row.Int(0), "");
  EXPECT_DEATH((void)row.Get(1), "");
}

TEST_F(DbTest, BoundParametersAreNeverParsedAsSql) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE x (name TEXT)")));
  const std::string evil = "'; DROP TABLE x; --";
  ASSERT_TRUE(Succeeds(db.Execute("INSERT INTO x (name) VALUES (?)", {evil})));
  auto rows = db.Query("SELECT name FROM x WHERE name = ?", {evil});
  ASSERT_TRUE(Succeeds(rows));
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Text(0), evil);
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'x'"), Value(int64_t{1}));
}

TEST_F(DbTest, ExecuteRejectsMisuse) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (a, b)")));
  // SQLite itself would bind NULL to the missing parameter.
  EXPECT_TRUE(FailsWith(db.Execute("INSERT INTO t VALUES (?, ?)", {int64_t{1}}),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      FailsWith(db.Execute("INSERT INTO t VALUES (?, ?)", {1, 2, 3}), ErrorCode::kInvalidArgument));
  // SQLite itself would run only the first statement.
  EXPECT_TRUE(FailsWith(db.Execute("INSERT INTO t VALUES (1, 2); DROP TABLE t"),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(db.Execute("  "), ErrorCode::kInvalidArgument));
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM t"), Value(int64_t{0}));
  // Trailing whitespace, ';' and comments are one statement.
  EXPECT_TRUE(Succeeds(db.Execute("INSERT INTO t VALUES (?, ?); -- done\n", {1, 2})));
  EXPECT_TRUE(FailsWith(db.Execute("SELEC 1"), ErrorCode::kUnknown));
}

TEST_F(DbTest, ExecuteCountsChangedRows) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (a)")));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Succeeds(db.Execute("INSERT INTO t VALUES (?)", {i})));
  auto updated = db.Execute("UPDATE t SET a = a + 10 WHERE a >= ?", {3});
  ASSERT_TRUE(Succeeds(updated));
  EXPECT_EQ(*updated, 2);
  auto none = db.Execute("DELETE FROM t WHERE a = ?", {100});
  ASSERT_TRUE(Succeeds(none));
  EXPECT_EQ(*none, 0);
  // Not a DML statement: must not report the previous statement's count.
  auto ddl = db.Execute("CREATE INDEX t_a ON t (a)");
  ASSERT_TRUE(Succeeds(ddl));
  EXPECT_EQ(*ddl, 0);
  auto deleted = db.Execute("DELETE FROM t");
  ASSERT_TRUE(Succeeds(deleted));
  EXPECT_EQ(*deleted, 5);
}

TEST_F(DbTest, ConstraintViolationsMapToErrorCodes) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(
      Succeeds(db.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
                       "CREATE TABLE keys (user_id INTEGER NOT NULL REFERENCES users (id));")));
  const std::string_view insert = "INSERT INTO users (id, name) VALUES (?, ?)";
  ASSERT_TRUE(Succeeds(db.Execute(insert, {1, std::string("alice")})));
  auto dup = db.Execute(insert, {2, std::string("alice")});
  ASSERT_TRUE(FailsWith(dup, ErrorCode::kAlreadyExists));
  EXPECT_NE(dup.error().Message().find("UNIQUE constraint failed"), std::string::npos)
      << dup.error().Message();
  EXPECT_NE(dup.error().Message().find("sqlite: " + db.Path() + ": "), std::string::npos);
  EXPECT_TRUE(FailsWith(db.Execute(insert, {1, std::string("bob")}), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(FailsWith(db.Execute(insert, {3, nullptr}), ErrorCode::kInvalidArgument));
  // foreign_keys=ON is in force.
  EXPECT_TRUE(
      FailsWith(db.Execute("INSERT INTO keys VALUES (?)", {99}), ErrorCode::kInvalidArgument));
  // A failed run leaves the cached statement usable.
  EXPECT_TRUE(Succeeds(db.Execute(insert, {2, std::string("bob")})));
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM users"), Value(int64_t{2}));
}

TEST_F(DbTest, CachedStatementSurvivesSchemaChange) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (a); INSERT INTO t VALUES (1);")));
  auto before = db.Query("SELECT * FROM t");
  ASSERT_TRUE(Succeeds(before));
  EXPECT_EQ((*before)[0].Size(), 1u);
  ASSERT_TRUE(Succeeds(db.Exec("ALTER TABLE t ADD COLUMN b DEFAULT 2")));
  auto after = db.Query("SELECT * FROM t");
  ASSERT_TRUE(Succeeds(after));
  ASSERT_EQ((*after)[0].Size(), 2u);
  EXPECT_EQ((*after)[0].Int(1), 2);
}

TEST_F(DbTest, TransactionCommitsOrRollsBack) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (a)")));
  auto committed = db.Transaction([](Database& tx) -> Result<int64_t> {
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t VALUES (1)"));
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t VALUES (2)"));
    return 42;
  });
  ASSERT_TRUE(Succeeds(committed));
  EXPECT_EQ(*committed, 42);

  auto failed = db.Transaction([](Database& tx) -> Result<void> {
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t VALUES (3)"));
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t VALUES (4)"));
    return Fail(ErrorCode::kNotFound, "no such thing");
  });
  ASSERT_TRUE(FailsWith(failed, ErrorCode::kNotFound));
  EXPECT_EQ(failed.error().Message(), "no such thing");
  EXPECT_EQ(Scalar(db, "SELECT group_concat(a) FROM t"), Value(std::string("1,2")));

  // An SQL error inside fn rolls back too.
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE u (a UNIQUE)")));
  auto dup = db.Transaction([](Database& tx) -> Result<void> {
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO u VALUES (1)"));
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO u VALUES (1)"));
    return {};
  });
  EXPECT_TRUE(FailsWith(dup, ErrorCode::kAlreadyExists));
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM u"), Value(int64_t{0}));
  // The connection is out of the transaction again.
  EXPECT_TRUE(Succeeds(db.Transaction([](Database&) -> Result<void> { return {}; })));
}

TEST_F(DbTest, NestedTransactionIsRejected) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (a)")));
  auto outer = db.Transaction([](Database& tx) -> Result<void> {
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t VALUES (1)"));
    return tx.Transaction([](Database&) -> Result<void> { return {}; });
  });
  EXPECT_TRUE(FailsWith(outer, ErrorCode::kInvalidArgument));
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM t"), Value(int64_t{0}));
}

TEST_F(DbTest, TransactionRollsBackWhenFnThrows) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (a)")));
  EXPECT_THROW((void)db.Transaction([](Database& tx) -> Result<void> {
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t VALUES (1)"));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM t"), Value(int64_t{0}));
  EXPECT_TRUE(Succeeds(db.Execute("INSERT INTO t VALUES (1)")));
}

TEST_F(DbTest, WriterBlockedByAnotherConnectionIsUnavailable) {
  Database a = OpenOrDie(dir_.Sub("a.db"));
  Database b = OpenOrDie(dir_.Sub("a.db"), OpenOptions{.busy_timeout_ms = 50});
  ASSERT_TRUE(Succeeds(a.Exec("CREATE TABLE t (a)")));
  auto r = a.Transaction([&](Database& tx) -> Result<void> {
    HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t VALUES (1)"));
    EXPECT_TRUE(FailsWith(b.Execute("INSERT INTO t VALUES (2)"), ErrorCode::kUnavailable));
    // WAL: a reader is not blocked and sees the last committed state.
    EXPECT_EQ(Scalar(b, "SELECT count(*) FROM t"), Value(int64_t{0}));
    return {};
  });
  ASSERT_TRUE(Succeeds(r));
  EXPECT_EQ(Scalar(b, "SELECT count(*) FROM t"), Value(int64_t{1}));
}

TEST_F(DbTest, MigrateAppliesMissingStepsOnce) {
  const std::string path = dir_.Sub("a.db");
  std::vector<std::string_view> steps = {
      "CREATE TABLE users (name TEXT PRIMARY KEY)",
      "ALTER TABLE users ADD COLUMN quota INTEGER NOT NULL DEFAULT 0;"
      "CREATE TABLE log (line TEXT)",
  };
  {
    Database db = OpenOrDie(path);
    ASSERT_TRUE(Succeeds(db.Migrate(steps)));
    EXPECT_EQ(Scalar(db, "PRAGMA user_version"), Value(int64_t{2}));
    // Re-running is a no-op: the steps would fail if they ran again.
    ASSERT_TRUE(Succeeds(db.Migrate(steps)));
    EXPECT_EQ(Scalar(db, "PRAGMA user_version"), Value(int64_t{2}));
  }
  {
    // Reopened by a newer program with one more step: only that step runs.
    Database db = OpenOrDie(path);
    steps.push_back("INSERT INTO log VALUES ('v3')");
    ASSERT_TRUE(Succeeds(db.Migrate(steps)));
    EXPECT_EQ(Scalar(db, "PRAGMA user_version"), Value(int64_t{3}));
    EXPECT_EQ(Scalar(db, "SELECT count(*) FROM log"), Value(int64_t{1}));
    ASSERT_TRUE(Succeeds(db.Migrate(steps)));
    EXPECT_EQ(Scalar(db, "SELECT count(*) FROM log"), Value(int64_t{1}));
  }
  {
    // An older program refuses the newer schema.
    Database db = OpenOrDie(path);
    std::span<const std::string_view> old_steps(steps.data(), 2);
    auto r = db.Migrate(old_steps);
    ASSERT_TRUE(FailsWith(r, ErrorCode::kNotSupported));
    EXPECT_NE(r.error().Message().find(
                  "database schema version 3 is newer than this program supports (2)"),
              std::string::npos)
        << r.error().Message();
  }
}

TEST_F(DbTest, FailingMigrationStepLeavesWholeVersion) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  const std::array<std::string_view, 2> steps = {
      "CREATE TABLE a (x)",
      "CREATE TABLE b (x); CREATE TABLE a (x)",  // second statement fails
  };
  auto r = db.Migrate(steps);
  ASSERT_TRUE(FailsWith(r, ErrorCode::kUnknown));
  EXPECT_NE(r.error().Message().find("migrating schema to version 2"), std::string::npos)
      << r.error().Message();
  EXPECT_EQ(Scalar(db, "PRAGMA user_version"), Value(int64_t{1}));
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'b'"), Value(int64_t{0}));
}

TEST_F(DbTest, IntegrityCheckDetectsCorruptPages) {
  const std::string path = dir_.Sub("a.db");
  {
    Database db = OpenOrDie(path);
    ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")));
    auto filled = db.Transaction([](Database& tx) -> Result<void> {
      for (int i = 0; i < 2000; ++i) {
        HALLEY_RETURN_IF_ERROR(tx.Execute("INSERT INTO t (v) VALUES (?)",
                                          {std::string(100, static_cast<char>('a' + i % 26))}));
      }
      return {};
    });
    ASSERT_TRUE(Succeeds(filled));
    EXPECT_TRUE(Succeeds(db.IntegrityCheck(false)));
    EXPECT_TRUE(Succeeds(db.IntegrityCheck(true)));
  }
  // Closing the last connection checkpointed the WAL into the file and removed it.
  ASSERT_FALSE(std::filesystem::exists(path + "-wal"));
  ASSERT_GT(std::filesystem::file_size(path), 4096u * 8);
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096 * 2);
    std::mt19937 rng(1);
    std::string garbage(4096, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    ASSERT_TRUE(f.good());
  }
  auto db = Database::Open(path);
  if (!db) {
    EXPECT_TRUE(FailsWith(db, ErrorCode::kCorruption));
    return;
  }
  auto quick = db->IntegrityCheck(false);
  EXPECT_TRUE(FailsWith(quick, ErrorCode::kCorruption));
  auto full = db->IntegrityCheck(true);
  EXPECT_TRUE(FailsWith(full, ErrorCode::kCorruption));
  if (!full) std::printf("integrity_check said: %s\n", full.error().Message().c_str());
}

TEST_F(DbTest, SharedAcrossThreads) {
  Database db = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(db.Exec("CREATE TABLE t (thread INTEGER, i INTEGER)")));
  constexpr int kThreads = 4;
  constexpr int kRows = 500;
  constexpr int kBatch = 10;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Alternate single statements with transactions, so that statements of one thread meet
      // another thread's open transaction.
      for (int i = 0; i < kRows; i += kBatch) {
        auto insert = [&](Database& d, int k) {
          return d.Execute("INSERT INTO t VALUES (?, ?)", {t, k});
        };
        if ((i / kBatch) % 2 == 0) {
          auto r = db.Transaction([&](Database& tx) -> Result<void> {
            for (int k = i; k < i + kBatch; ++k) HALLEY_RETURN_IF_ERROR(insert(tx, k));
            return {};
          });
          if (!r) ++failures[t];
        } else {
          for (int k = i; k < i + kBatch; ++k) {
            if (!insert(db, k)) ++failures[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << t;
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM t"), Value(int64_t{kThreads * kRows}));
  EXPECT_EQ(Scalar(db, "SELECT count(DISTINCT thread * 1000 + i) FROM t"),
            Value(int64_t{kThreads * kRows}));
}

TEST_F(DbTest, MovedDatabaseKeepsWorking) {
  Database a = OpenOrDie(dir_.Sub("a.db"));
  ASSERT_TRUE(Succeeds(a.Exec("CREATE TABLE t (a); INSERT INTO t VALUES (5);")));
  Database b = std::move(a);
  EXPECT_EQ(Scalar(b, "SELECT a FROM t"), Value(int64_t{5}));
  Database c = OpenOrDie(dir_.Sub("c.db"));
  c = std::move(b);
  EXPECT_EQ(Scalar(c, "SELECT a FROM t"), Value(int64_t{5}));
}

}  // namespace
}  // namespace halley::db
