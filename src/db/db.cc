// SPDX-License-Identifier: Apache-2.0
#include "db/db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include <sqlite3.h>

namespace halley::db {
namespace {

// Statements are cached by SQL text. Callers use constant text, so a program has a few dozen
// distinct statements; the cap only keeps accidental string-built SQL from growing the cache
// without bound (statements beyond it are prepared per call).
constexpr size_t kMaxCachedStatements = 128;

ErrorCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kCorruption;
    case SQLITE_FULL:
      return ErrorCode::kNoSpace;
    case SQLITE_CONSTRAINT:
      // Callers branch on "already exists" (creating a user twice); the other constraints
      // reject bad input.
      return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY
                 ? ErrorCode::kAlreadyExists
                 : ErrorCode::kInvalidArgument;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      return ErrorCode::kIoError;
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return ErrorCode::kPermissionDenied;
    default:
      return ErrorCode::kUnknown;
  }
}

// Creates `path` with mode 0600 if it does not exist, so that SQLite (which would create it
// 0644 & ~umask) never makes a world-readable database, and so that its -wal and -shm files,
// which SQLite creates with the database file's mode, are private too. The directory is
// synced because SQLite syncs the file's contents but not the new directory entry.
Result<void> CreatePrivateFile(const std::string& path) {
  auto fail = [&](std::string_view what, int err) {
    ErrorCode code = ErrorCode::kIoError;
    if (err == EACCES || err == EPERM || err == EROFS) code = ErrorCode::kPermissionDenied;
    if (err == ENOSPC || err == EDQUOT) code = ErrorCode::kNoSpace;
    return Fail(code, "sqlite: " + path + ": " + std::string(what) + ": " + std::strerror(err));
  };
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return fail("cannot create the database file", errno);
  }
  // open() applied the umask, which may have removed owner bits.
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return fail("cannot set up the database file", err);
  }
  ::close(fd);
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return fail("cannot open the directory to sync it", errno);
  int rc = ::fsync(dir_fd);
  int err = errno;
  ::close(dir_fd);
  if (rc != 0) return fail("cannot sync the directory", err);
  return {};
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

// ---- Row -------------------------------------------------------------------------------------

const Value& Row::Get(size_t i) const {
  HALLEY_CHECK(i < values_.size());
  return values_[i];
}

bool Row::IsNull(size_t i) const { return std::holds_alternative<std::nullptr_t>(Get(i)); }

int64_t Row::Int(size_t i) const {
  const auto* v = std::get_if<int64_t>(&Get(i));
  HALLEY_CHECK(v != nullptr);
  return *v;
}

double Row::Double(size_t i) const {
  const Value& value = Get(i);
  if (const auto* n = std::get_if<int64_t>(&value)) return static_cast<double>(*n);
  const auto* v = std::get_if<double>(&value);
  HALLEY_CHECK(v != nullptr);
  return *v;
}

const std::string& Row::Text(size_t i) const {
  const auto* v = std::get_if<std::string>(&Get(i));
  HALLEY_CHECK(v != nullptr);
  return *v;
}

const Bytes& Row::Blob(size_t i) const {
  const auto* v = std::get_if<Bytes>(&Get(i));
  HALLEY_CHECK(v != nullptr);
  return *v;
}

// ---- Database::Impl --------------------------------------------------------------------------

class Database::Impl {
 public:
  // A prepared statement borrowed from the cache, or owned when the cache is full. Release
  // resets it: a statement left mid-step would keep a read transaction (and the WAL snapshot)
  // open, and its bindings point into the caller's parameters.
  class Statement {
   public:
    Statement(sqlite3_stmt* stmt, bool owned) : stmt_(stmt), owned_(owned) {}
    Statement(Statement&& other) noexcept
        : stmt_(std::exchange(other.stmt_, nullptr)), owned_(other.owned_) {}
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;
    ~Statement() {
      if (stmt_ == nullptr) return;
      if (owned_) {
        sqlite3_finalize(stmt_);
      } else {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
      }
    }
    sqlite3_stmt* Get() const { return stmt_; }

   private:
    sqlite3_stmt* stmt_;
    bool owned_;
  };

  Impl(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    // Every statement is finalized, so close cannot be busy; _v2 would still defer rather than
    // leak if one were not.
    sqlite3_close_v2(db_);
  }

  const std::string& Path() const { return path_; }
  std::recursive_mutex& Mutex() { return mu_; }
  sqlite3* Handle() const { return db_; }

  // The error for result code `rc` of the call that just failed. REQUIRES: mu_ held since that
  // call, because sqlite3_errmsg describes the connection's most recent failure.
  Error ErrorFrom(int rc) const {
    return Error(CodeFor(rc), "sqlite: " + path_ + ": " + sqlite3_errmsg(db_));
  }
  Error Misuse(std::string_view what) const {
    return Error(ErrorCode::kInvalidArgument, "sqlite: " + path_ + ": " + std::string(what));
  }

  // Returns the prepared statement for `sql`, which must hold exactly one statement.
  // REQUIRES: mu_ held.
  Result<Statement> Prepare(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return Statement(it->second, false);
    if (sql.size() > static_cast<size_t>(INT_MAX)) return Fail(Misuse("statement too long"));
    const bool cache = cache_.size() < kMaxCachedStatements;
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, &tail);
    if (rc != SQLITE_OK) return Fail(ErrorFrom(rc));
    if (stmt == nullptr) return Fail(Misuse("empty statement"));
    // Anything after the first statement other than whitespace and comments would be silently
    // ignored by SQLite; preparing the rest tells the two apart.
    const size_t rest = static_cast<size_t>(sql.data() + sql.size() - tail);
    if (rest > 0) {
      sqlite3_stmt* next = nullptr;
      rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(rest), &next, nullptr);
      sqlite3_finalize(next);
      if (rc != SQLITE_OK || next != nullptr) {
        sqlite3_finalize(stmt);
        return Fail(Misuse("several statements given where one is expected (use Exec)"));
      }
    }
    if (!cache) return Statement(stmt, true);
    cache_.emplace(std::string(sql), stmt);
    return Statement(stmt, false);
  }

  // REQUIRES: mu_ held.
  Result<void> Bind(sqlite3_stmt* stmt, std::initializer_list<Value> params) {
    const int expected = sqlite3_bind_parameter_count(stmt);
    if (static_cast<size_t>(expected) != params.size()) {
      return Fail(Misuse("statement has " + std::to_string(expected) + " parameters, " +
                         std::to_string(params.size()) + " given"));
    }
    int index = 0;
    for (const Value& param : params) {
      ++index;
      // SQLITE_STATIC: the values outlive the statement's use, which ends (with a reset that
      // clears the bindings) before Execute()/Query() return.
      int rc = std::visit(Overloaded{
                              [&](std::nullptr_t) { return sqlite3_bind_null(stmt, index); },
                              [&](int64_t v) { return sqlite3_bind_int64(stmt, index, v); },
                              [&](double v) { return sqlite3_bind_double(stmt, index, v); },
                              [&](const std::string& v) {
                                return sqlite3_bind_text64(stmt, index, v.data(), v.size(),
                                                           SQLITE_STATIC, SQLITE_UTF8);
                              },
                              [&](const Bytes& v) {
                                // A null data pointer (an empty vector's) would bind NULL, not an
                                // empty BLOB.
                                if (v.empty()) return sqlite3_bind_zeroblob(stmt, index, 0);
                                return sqlite3_bind_blob64(stmt, index, v.data(), v.size(),
                                                           SQLITE_STATIC);
                              },
                          },
                          param);
      if (rc != SQLITE_OK) return Fail(ErrorFrom(rc));
    }
    return {};
  }

  // Steps `stmt` to completion, appending its rows to `rows` if that is not null.
  // REQUIRES: mu_ held.
  Result<void> Run(sqlite3_stmt* stmt, std::vector<Row>* rows) {
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return {};
      if (rc != SQLITE_ROW) return Fail(ErrorFrom(rc));
      if (rows == nullptr) continue;
      const int columns = sqlite3_column_count(stmt);
      std::vector<Value> values;
      values.reserve(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) values.push_back(Column(stmt, c));
      rows->emplace_back(std::move(values));
    }
  }

 private:
  static Value Column(sqlite3_stmt* stmt, int c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER:
        return static_cast<int64_t>(sqlite3_column_int64(stmt, c));
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt, c);
      case SQLITE_TEXT: {
        // Pointer first, then size: the documented order that avoids a conversion in between.
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        const auto n = static_cast<size_t>(sqlite3_column_bytes(stmt, c));
        return p == nullptr ? std::string() : std::string(p, n);
      }
      case SQLITE_BLOB: {
        const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, c));
        const auto n = static_cast<size_t>(sqlite3_column_bytes(stmt, c));
        return p == nullptr ? Bytes() : Bytes(p, p + n);
      }
      default:
        return nullptr;
    }
  }

  const std::string path_;
  sqlite3* const db_;
  // Recursive so that calls made by a Transaction's fn on this thread pass while the
  // transaction holds it (see Database::Transaction).
  std::recursive_mutex mu_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// ---- Database --------------------------------------------------------------------------------

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;
Database::Database(Database&& other) noexcept = default;
Database& Database::operator=(Database&& other) noexcept = default;

Result<Database> Database::Open(const std::string& path, OpenOptions opts) {
  if (path.empty() || path == ":memory:") {
    return Fail(ErrorCode::kInvalidArgument,
                "sqlite: \"" + path + "\" does not name a database file");
  }
  if (opts.busy_timeout_ms < 0) {
    return Fail(ErrorCode::kInvalidArgument, "sqlite: " + path + ": negative busy timeout");
  }
  HALLEY_RETURN_IF_ERROR(CreatePrivateFile(path));

  // No SQLITE_OPEN_CREATE: the file exists now, and if it vanished in between SQLite must not
  // recreate it with its default mode. FULLMUTEX makes the connection safe for any thread; our
  // own mutex on top keeps each call's errmsg and each transaction together.
  sqlite3* handle = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close_v2(handle);
    return Fail(CodeFor(rc), "sqlite: " + path + ": " + msg);
  }
  // Extended codes tell a unique violation from the other constraint failures.
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, opts.busy_timeout_ms);
  Database db(std::make_unique<Impl>(path, handle));

  HALLEY_ASSIGN_OR_RETURN(auto mode, db.Query("PRAGMA journal_mode=WAL"));
  if (mode.size() != 1 || mode[0].Size() != 1 ||
      !std::holds_alternative<std::string>(mode[0].Get(0)) || mode[0].Text(0) != "wal") {
    return Fail(ErrorCode::kNotSupported,
                "sqlite: " + path + ": the filesystem does not support WAL mode");
  }
  HALLEY_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  return db;
}

const std::string& Database::Path() const {
  HALLEY_CHECK(impl_ != nullptr);
  return impl_->Path();
}

Result<void> Database::Exec(std::string_view sql) {
  HALLEY_CHECK(impl_ != nullptr);
  std::lock_guard lock(impl_->Mutex());
  // sqlite3_exec needs a NUL-terminated string.
  const std::string text(sql);
  int rc = sqlite3_exec(impl_->Handle(), text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Fail(impl_->ErrorFrom(rc));
  return {};
}

Result<int64_t> Database::Execute(std::string_view sql, std::initializer_list<Value> params) {
  HALLEY_CHECK(impl_ != nullptr);
  std::lock_guard lock(impl_->Mutex());
  HALLEY_ASSIGN_OR_RETURN(auto stmt, impl_->Prepare(sql));
  HALLEY_RETURN_IF_ERROR(impl_->Bind(stmt.Get(), params));
  sqlite3* db = impl_->Handle();
  // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE when another kind of
  // statement runs; the total, which every changed row advances, shows whether this one
  // changed anything at all.
  const int64_t total_before = sqlite3_total_changes64(db);
  HALLEY_RETURN_IF_ERROR(impl_->Run(stmt.Get(), nullptr));
  if (sqlite3_total_changes64(db) == total_before) return 0;
  return static_cast<int64_t>(sqlite3_changes64(db));
}

Result<std::vector<Row>> Database::Query(std::string_view sql,
                                         std::initializer_list<Value> params) {
  HALLEY_CHECK(impl_ != nullptr);
  std::lock_guard lock(impl_->Mutex());
  HALLEY_ASSIGN_OR_RETURN(auto stmt, impl_->Prepare(sql));
  HALLEY_RETURN_IF_ERROR(impl_->Bind(stmt.Get(), params));
  std::vector<Row> rows;
  HALLEY_RETURN_IF_ERROR(impl_->Run(stmt.Get(), &rows));
  return rows;
}

Result<void> Database::RunTransaction(const std::function<Result<void>(Database&)>& fn) {
  HALLEY_CHECK(impl_ != nullptr);
  std::lock_guard lock(impl_->Mutex());
  sqlite3* db = impl_->Handle();
  if (sqlite3_get_autocommit(db) == 0) {
    return Fail(impl_->Misuse("a transaction is already open on this connection"));
  }
  HALLEY_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // Rolls back on every way out that did not commit, including an exception from fn. SQLite
  // may already have rolled back by itself (after SQLITE_FULL, SQLITE_IOERR, ...), hence the
  // autocommit check.
  struct RollbackUnlessDone {
    sqlite3* db;
    bool done = false;
    ~RollbackUnlessDone() {
      if (!done && sqlite3_get_autocommit(db) == 0)
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  } guard{db};
  HALLEY_RETURN_IF_ERROR(fn(*this));
  HALLEY_RETURN_IF_ERROR(Exec("COMMIT"));
  guard.done = true;
  return {};
}

Result<void> Database::Migrate(std::span<const std::string_view> steps) {
  HALLEY_CHECK(impl_ != nullptr);
  const auto target = static_cast<int64_t>(steps.size());
  auto read_version = [&]() -> Result<int64_t> {
    HALLEY_ASSIGN_OR_RETURN(auto rows, Query("PRAGMA user_version"));
    HALLEY_CHECK(rows.size() == 1);
    const int64_t version = rows[0].Int(0);
    if (version > target) {
      return Fail(ErrorCode::kNotSupported,
                  "sqlite: " + impl_->Path() + ": database schema version " +
                      std::to_string(version) + " is newer than this program supports (" +
                      std::to_string(target) + ")");
    }
    return version;
  };
  // Reading first keeps an up-to-date database from taking the write lock at every start.
  HALLEY_ASSIGN_OR_RETURN(int64_t version, read_version());
  while (version < target) {
    auto step = Transaction([&](Database& self) -> Result<int64_t> {
      // Another process may have migrated between our read and the write lock.
      HALLEY_ASSIGN_OR_RETURN(int64_t current, read_version());
      if (current == target) return current;
      const int64_t next = current + 1;
      auto applied = self.Exec(steps[static_cast<size_t>(current)]);
      if (applied) applied = self.Exec("PRAGMA user_version = " + std::to_string(next));
      if (!applied) {
        return Fail(
            applied.error().WithContext("migrating schema to version " + std::to_string(next)));
      }
      return next;
    });
    if (!step) return Fail(std::move(step).error());
    version = *step;
  }
  return {};
}

Result<void> Database::IntegrityCheck(bool full) {
  HALLEY_CHECK(impl_ != nullptr);
  // The limit bounds the work and the report on a badly damaged file.
  HALLEY_ASSIGN_OR_RETURN(auto rows,
                          Query(full ? "PRAGMA integrity_check(20)" : "PRAGMA quick_check(20)"));
  auto text = [](const Row& row) {
    return row.Size() == 1 && std::holds_alternative<std::string>(row.Get(0)) ? row.Text(0)
                                                                              : std::string("?");
  };
  if (rows.size() == 1 && text(rows[0]) == "ok") return {};
  std::string msg =
      "sqlite: " + impl_->Path() + ": " + (full ? "integrity_check" : "quick_check") + " failed: ";
  constexpr size_t kShown = 5;
  for (size_t i = 0; i < rows.size() && i < kShown; ++i) {
    if (i > 0) msg += "; ";
    msg += text(rows[i]);
  }
  if (rows.size() > kShown) msg += "; ...";
  return Fail(ErrorCode::kCorruption, std::move(msg));
}

}  // namespace halley::db
