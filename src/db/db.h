// SPDX-License-Identifier: Apache-2.0
//
// Database is a small wrapper around one SQLite connection for the server's metadata (users,
// sessions, buckets). It exists so that every caller gets the same durable settings, typed
// errors instead of SQLite result codes, bound parameters instead of string-built SQL, and
// one way to run transactions and schema migrations.
//
// Every connection runs with journal_mode=WAL (readers do not block the writer),
// synchronous=FULL (a commit returns only once it is on disk, because the server acknowledges
// only what it has stored), foreign_keys=ON and a busy timeout.
//
// Errors: each SQLite failure maps to an ErrorCode with the message
// "sqlite: <path>: <sqlite3_errmsg>":
//   SQLITE_BUSY, SQLITE_LOCKED (another connection holds the lock past
//     the busy timeout)                  -> kUnavailable (retryable)
//   SQLITE_CORRUPT, SQLITE_NOTADB        -> kCorruption
//   SQLITE_FULL                          -> kNoSpace
//   SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY  -> kAlreadyExists (a unique or primary-key violation)
//   other SQLITE_CONSTRAINT (NOT NULL, CHECK, FOREIGN KEY) -> kInvalidArgument
//   SQLITE_CANTOPEN, SQLITE_IOERR        -> kIoError
//   SQLITE_PERM, SQLITE_READONLY         -> kPermissionDenied
//   anything else (syntax errors, ...)   -> kUnknown
// Misuse that this wrapper detects itself (wrong number of parameters, several statements
// where one is expected, a nested transaction) is kInvalidArgument.
//
// Thread-safe: one Database may be shared by any number of threads. Calls are serialized by
// a mutex that Transaction() holds for its whole duration, so statements of other threads never
// interleave with a transaction. Several Database objects (or processes) may open the same file;
// SQLite's file locks arbitrate between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::db {

// A parameter or column value. std::string binds as TEXT and Bytes as BLOB, so that byte
// strings (hashes, keys) never go through text conversion. An int literal binds as int64_t.
using Value = std::variant<std::nullptr_t, int64_t, double, std::string, Bytes>;

// One result row with typed access by column index (0-based, in SELECT order).
// REQUIRES for every accessor: i < Size(). The typed accessors also require the column to hold
// that type (check IsNull() first for nullable columns); a violation is a schema/query mismatch,
// a bug, and aborts through HALLEY_CHECK rather than guessing a conversion.
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}

  size_t Size() const { return values_.size(); }
  const Value& Get(size_t i) const;
  bool IsNull(size_t i) const;
  int64_t Int(size_t i) const;
  // Accepts INTEGER as well as REAL, since SQLite returns integral results of arithmetic
  // (SUM over integers, ...) as INTEGER.
  double Double(size_t i) const;
  const std::string& Text(size_t i) const;
  const Bytes& Blob(size_t i) const;

 private:
  std::vector<Value> values_;
};

struct OpenOptions {
  // How long a statement waits for a lock that another connection holds before it fails with
  // kUnavailable.
  int busy_timeout_ms = 5000;
};

class Database {
 public:
  // Opens the database file at `path`, creating it (mode 0600 regardless of the umask, and
  // its directory entry synced) if it does not exist; an existing file keeps its mode. The
  // directory must exist. Then applies the connection settings described at the top.
  // Errors: kInvalidArgument for "" and ":memory:" (SQLite would not open a file for those;
  // write "./:memory:" for a file of that name) or a negative busy timeout; kIoError (message
  // naming the path) if the file cannot be created or opened, e.g. a missing directory;
  // kPermissionDenied; kCorruption if the file is not a database; kNotSupported if the
  // filesystem does not allow WAL mode.
  static Result<Database> Open(const std::string& path, OpenOptions opts = {});

  // Closes the connection. A moved-from Database may only be destroyed or assigned to.
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& Path() const;

  // Runs SQL without parameters, discarding any rows; `sql` may hold several statements
  // separated by ';' (schema scripts). Statements before a failing one stay applied unless
  // the caller wraps the call in Transaction().
  Result<void> Exec(std::string_view sql);

  // Runs exactly one statement with `params` bound to its ?/?NNN/:name placeholders in order
  // and returns the number of rows it inserted, updated or deleted directly (0 for other
  // statements; rows changed by triggers or foreign-key actions are not counted).
  // kInvalidArgument if params.size() differs from the number of placeholders (SQLite would
  // silently bind NULL to the missing ones) or if `sql` holds more than one statement.
  // Prepared statements are cached by SQL text, so keep the text constant and vary params.
  Result<int64_t> Execute(std::string_view sql, std::initializer_list<Value> params = {});

  // Like Execute(), but returns every row the statement yields.
  Result<std::vector<Row>> Query(std::string_view sql, std::initializer_list<Value> params = {});

  // Runs fn(*this) inside BEGIN IMMEDIATE ... COMMIT and returns what fn returned. fn returns
  // some Result<T>; if it fails (or throws) the transaction is rolled back and fn's error is
  // returned. BEGIN IMMEDIATE takes the write lock up front, so a transaction that has started
  // never fails later because another connection wrote first.
  // fn may call any method of this Database: the mutex is recursive and stays held by this
  // thread until COMMIT, so other threads' calls wait and never land inside the transaction.
  // Hence fn must not wait for another thread that uses this Database (it would deadlock).
  // kInvalidArgument if a transaction is already open on this connection (SQLite has no
  // nested transactions; compose the work inside one fn instead). kUnavailable if the write
  // lock stays busy past the busy timeout.
  template <class Fn>
  std::invoke_result_t<Fn&, Database&> Transaction(Fn&& fn);

  // Brings the schema up to date: steps[i] is the SQL (one or several statements) that takes
  // the schema from version i to version i + 1, and PRAGMA user_version holds the version.
  // Each missing step runs in its own transaction together with the version bump, so a crash
  // or failure leaves the schema at a whole version; the version is re-read under the write
  // lock, so concurrent migrations by several processes apply each step once. Steps must not
  // contain BEGIN/COMMIT (and PRAGMA foreign_keys has no effect inside a transaction).
  // kNotSupported if the database's version is greater than steps.size() (written by a newer
  // program); a failing step returns its error with "migrating schema to version N" prefixed.
  Result<void> Migrate(std::span<const std::string_view> steps);

  // Checks the file's structure: PRAGMA quick_check (linear time, skips index-content checks)
  // or, if `full`, PRAGMA integrity_check. kCorruption (with the first messages SQLite
  // reported) unless the check returns exactly "ok".
  Result<void> IntegrityCheck(bool full);

 private:
  class Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  Result<void> RunTransaction(const std::function<Result<void>(Database&)>& fn);

  std::unique_ptr<Impl> impl_;
};

namespace internal {
template <class R>
struct IsResult : std::false_type {};
template <class T>
struct IsResult<Result<T>> : std::true_type {};
}  // namespace internal

template <class Fn>
std::invoke_result_t<Fn&, Database&> Database::Transaction(Fn&& fn) {
  using R = std::invoke_result_t<Fn&, Database&>;
  static_assert(internal::IsResult<R>::value, "Transaction's fn must return a halley::Result<T>");
  // The non-template RunTransaction owns locking, BEGIN, COMMIT and ROLLBACK; only fn's value
  // travels back through `out`.
  std::optional<R> out;
  Result<void> status = RunTransaction([&](Database& db) -> Result<void> {
    out.emplace(fn(db));
    if (!*out) return Fail(out->error());
    return {};
  });
  if (!status) return Fail(std::move(status).error());
  return std::move(*out);
}

}  // namespace halley::db
