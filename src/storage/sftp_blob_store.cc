// SPDX-License-Identifier: Apache-2.0
#include "storage/sftp_blob_store.h"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <optional>
#include <utility>

#include "base/bytes.h"
#include "httpclient/aws_sigv4.h"

namespace halley::storage {
namespace {

constexpr size_t kPiece = 64 * 1024;  // per SFTP read or write (OpenSSH takes up to 256 KiB)
constexpr int kReadWindow = 16;       // reads in flight per Get: 1 MiB
constexpr mode_t kFileMode = 0400;    // objects are immutable, as in local and restic vaults
constexpr mode_t kDirMode = 0700;

std::string HomeDir() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/";
}

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// "host", "[host]:port": how ssh and known_hosts name an endpoint.
std::string Endpoint(const std::string& host, int port) {
  if (port == 0 || port == 22) return host;
  return "[" + host + "]:" + std::to_string(port);
}

// Splits "[user@]host[:port]" (host possibly "[v6]") into `out`.
Result<void> ParseAuthority(std::string_view s, SftpLocation& out) {
  if (const size_t at = s.rfind('@'); at != std::string_view::npos) {
    out.user = std::string(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
  std::string_view port;
  if (s.starts_with('[')) {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return Fail(ErrorCode::kInvalidArgument, "unclosed '['");
    out.host = std::string(s.substr(1, close - 1));
    s.remove_prefix(close + 1);
    if (s.starts_with(':'))
      port = s.substr(1);
    else if (!s.empty())
      return Fail(ErrorCode::kInvalidArgument, "junk after ']'");
  } else {
    const size_t colon = s.find(':');
    out.host = std::string(s.substr(0, colon));
    if (colon != std::string_view::npos) port = s.substr(colon + 1);
  }
  if (out.host.empty()) return Fail(ErrorCode::kInvalidArgument, "no host");
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || end != port.data() + port.size() || out.port < 1 || out.port > 65535) {
      return Fail(ErrorCode::kInvalidArgument, "bad port \"" + std::string(port) + "\"");
    }
  }
  return {};
}

struct FileCloser {
  void operator()(sftp_file_struct* f) const { sftp_close(f); }
};
using UniqueFile = std::unique_ptr<sftp_file_struct, FileCloser>;

}  // namespace

Result<SftpLocation> ParseSftpLocation(std::string_view location) {
  SftpLocation out;
  auto fail = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid SFTP vault location \"sftp:" + std::string(location) + "\": " + why +
                    " (expected sftp:[USER@]HOST[:PORT]:PATH or sftp://[USER@]HOST[:PORT]/PATH)");
  };
  std::string_view rest = location;
  std::string_view authority;
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return fail("no path");
    authority = rest.substr(0, slash);
    out.path = std::string(rest.substr(slash + 1));  // "/abs" when the URL had "//abs"
  } else {
    // The path starts after the ':' that ends the host (or its port, all digits).
    size_t colon = rest.starts_with('[') || rest.find('@') != std::string_view::npos
                       ? rest.find(':', rest.find(']') == std::string_view::npos ? rest.find('@')
                                                                                 : rest.find(']'))
                       : rest.find(':');
    if (colon == std::string_view::npos) return fail("no ':' before the path");
    const size_t next = rest.find(':', colon + 1);
    if (next != std::string_view::npos && next > colon + 1 &&
        std::all_of(rest.begin() + static_cast<ptrdiff_t>(colon) + 1,
                    rest.begin() + static_cast<ptrdiff_t>(next),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      colon = next;  // host:port:path
    }
    authority = rest.substr(0, colon);
    out.path = std::string(rest.substr(colon + 1));
  }
  if (auto parsed = ParseAuthority(authority, out); !parsed) return fail(parsed.error().Message());
  while (out.path.size() > 1 && out.path.ends_with('/')) out.path.pop_back();
  if (out.path.empty()) return fail("no path");
  return out;
}

// One SSH connection with its SFTP session, and the SFTP requests the store makes, with the
// server's answers mapped to error kinds. Used by one thread at a time (see Lease).
class SftpBlobStore::Connection {
 public:
  struct Entry {
    std::string name;
    uint64_t size = 0;
    uint8_t type = 0;  // SSH_FILEXFER_TYPE_*
    uint32_t mtime = 0;
  };

  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (sftp_) sftp_free(sftp_);
    if (ssh_) {
      ssh_disconnect(ssh_);
      ssh_free(ssh_);
    }
  }

  // Connects, checks the host key, authenticates and starts SFTP.
  static Result<std::unique_ptr<Connection>> Open(const SftpLocation& where,
                                                  const SftpOptions& options);

  bool Broken() const { return broken_; }
  bool CanFsync() const { return fsync_; }

  // The attributes of `path` (not following a final symlink), or nullopt if it is missing.
  Result<std::optional<Entry>> Stat(const std::string& path) {
    Begin();
    sftp_attributes a = sftp_lstat(sftp_, path.c_str());
    if (a == nullptr) {
      Error e = Failure("stat " + path);
      if (e.Code() == ErrorCode::kNotFound) return std::nullopt;
      return Fail(std::move(e));
    }
    Entry out{a->name ? a->name : "", a->size, a->type, a->mtime};
    sftp_attributes_free(a);
    return out;
  }

  // mkdir; a directory already there is success.
  Result<void> MakeDir(const std::string& path) {
    Begin();
    if (sftp_mkdir(sftp_, path.c_str(), kDirMode) == 0) return {};
    Error e = Failure("mkdir " + path);
    if (broken_ || e.Code() == ErrorCode::kNotFound) return Fail(std::move(e));
    // OpenSSH answers EEXIST with a plain failure: look.
    HALLEY_ASSIGN_OR_RETURN(auto st, Stat(path));
    if (st && st->type == SSH_FILEXFER_TYPE_DIRECTORY) return {};
    return Fail(std::move(e));
  }

  // mkdir -p.
  Result<void> MakeDirAll(const std::string& path) {
    auto made = MakeDir(path);
    if (!made && made.error().Code() == ErrorCode::kNotFound) {
      const std::string parent = Parent(path);
      if (parent.empty() || parent == path) return made;
      HALLEY_RETURN_IF_ERROR(MakeDirAll(parent));
      made = MakeDir(path);
    }
    return made;
  }

  // The entries of a directory (without "." and "..").
  Result<std::vector<Entry>> ReadDir(const std::string& dir) {
    Begin();
    sftp_dir d = sftp_opendir(sftp_, dir.c_str());
    if (d == nullptr) return Fail(Failure("opendir " + dir));
    std::vector<Entry> out;
    while (sftp_attributes a = sftp_readdir(sftp_, d)) {
      std::string name = a->name ? a->name : "";
      if (name != "." && name != "..") out.push_back({std::move(name), a->size, a->type, a->mtime});
      sftp_attributes_free(a);
    }
    const bool complete = sftp_dir_eof(d) != 0;
    Error e = complete ? Error(ErrorCode::kUnknown, "") : Failure("readdir " + dir);
    sftp_closedir(d);
    if (!complete) return Fail(std::move(e));
    return out;
  }

  // unlink; a missing file is success.
  Result<void> Unlink(const std::string& path) {
    Begin();
    if (sftp_unlink(sftp_, path.c_str()) == 0) return {};
    Error e = Failure("remove " + path);
    if (e.Code() == ErrorCode::kNotFound) return {};
    return Fail(std::move(e));
  }

  // Creates `path` exclusively and writes `data` to it, durably if the server can fsync.
  Result<void> WriteNew(const std::string& path, ByteView data, const SftpOptions& options) {
    httpclient::RateLimiter* limit = options.upload_limit.get();
    Begin();
    sftp_file f = sftp_open(sftp_, path.c_str(), O_WRONLY | O_CREAT | O_EXCL, kFileMode);
    if (f == nullptr) return Fail(Failure("create " + path));
    auto failed = [&](std::string what) {
      Error e = Failure(what + " " + path);
      sftp_close(f);
      return Fail(std::move(e));
    };
    for (size_t at = 0; at < data.size();) {
      if (options.cancelled && options.cancelled()) {
        sftp_close(f);
        (void)Unlink(path);
        return Fail(ErrorCode::kCancelled, "writing " + path + ": interrupted");
      }
      const size_t n = std::min(kPiece, data.size() - at);
      if (limit) limit->Acquire(n);
      Begin();
      const ssize_t w = sftp_write(f, data.data() + at, n);
      if (w <= 0) return failed("write");
      at += static_cast<size_t>(w);
    }
    Begin();
    if (fsync_ && sftp_fsync(f) != 0) return failed("fsync");
    Begin();
    if (sftp_close(f) != 0) return Fail(Failure("close " + path));
    return {};
  }

  // rename without replacing: SFTP v3's rename fails when `to` exists.
  Result<void> Rename(const std::string& from, const std::string& to) {
    Begin();
    if (sftp_rename(sftp_, from.c_str(), to.c_str()) == 0) return {};
    return Fail(Failure("rename " + from + " to " + to));
  }

  // Reads out.size() bytes at `offset` of `path` (or, with `to_end`, learns the size first
  // and returns what is there), with up to kReadWindow requests in flight.
  Result<void> Read(const std::string& path, uint64_t offset, MutableByteView out,
                    const SftpOptions& options);
  Result<uint64_t> Size(const std::string& path) {
    HALLEY_ASSIGN_OR_RETURN(auto st, Stat(path));
    if (!st) return Fail(ErrorCode::kNotFound, path + ": no such file");
    return st->size;
  }

 private:
  // Call before each SFTP request, so that Failure() sees this request's status rather than
  // an earlier one's (libssh keeps the last status the server sent).
  void Begin() { sftp_->errnum = SSH_FX_OK; }

  // The error of a failed request. A failure without a status from the server (the
  // connection dropped, a timeout, a garbled reply) leaves the session in an unknown state:
  // the connection is marked broken, to be dropped, and the error is retryable.
  Error Failure(std::string_view what) {
    const int status = sftp_ ? sftp_get_error(sftp_) : SSH_FX_OK;
    const bool dead = ssh_is_connected(ssh_) == 0 || ssh_get_error_code(ssh_) == SSH_FATAL ||
                      (sftp_ && (ssh_channel_is_closed(sftp_->channel) != 0 ||
                                 ssh_channel_is_eof(sftp_->channel) != 0));
    std::string text = std::string(what) + ": ";
    if (dead || status == SSH_FX_OK || status == SSH_FX_NO_CONNECTION ||
        status == SSH_FX_CONNECTION_LOST) {
      broken_ = true;
      return Error(ErrorCode::kUnavailable, text + "connection lost (" + ssh_get_error(ssh_) + ")");
    }
    switch (status) {
      case SSH_FX_NO_SUCH_FILE:
      case SSH_FX_NO_SUCH_PATH:
        return Error(ErrorCode::kNotFound, text + "no such file or directory");
      case SSH_FX_PERMISSION_DENIED:
      case SSH_FX_WRITE_PROTECT:
        return Error(ErrorCode::kPermissionDenied, text + "permission denied");
      case SSH_FX_FILE_ALREADY_EXISTS:
        return Error(ErrorCode::kAlreadyExists, text + "file exists");
      case SSH_FX_OP_UNSUPPORTED:
        return Error(ErrorCode::kNotSupported, text + "not supported by the server");
      default:
        // OpenSSH answers a full disk with a plain "Failure": the server's text is all there is.
        return Error(ErrorCode::kIoError, text + ssh_get_error(ssh_));
    }
  }

  Result<void> CheckHostKey(const std::string& endpoint);
  Result<void> Authenticate(const std::string& endpoint, const SftpOptions& options);

  ssh_session ssh_ = nullptr;
  sftp_session sftp_ = nullptr;
  bool fsync_ = false;   // the server offers fsync@openssh.com
  bool broken_ = false;  // dropped on release
};

Result<std::unique_ptr<SftpBlobStore::Connection>> SftpBlobStore::Connection::Open(
    const SftpLocation& where, const SftpOptions& options) {
  auto c = std::make_unique<Connection>();
  c->ssh_ = ssh_new();
  if (c->ssh_ == nullptr) return Fail(ErrorCode::kIoError, "libssh: cannot allocate a session");
  ssh_session s = c->ssh_;
  ssh_options_set(s, SSH_OPTIONS_SSH_DIR, options.ssh_dir.c_str());
  ssh_options_set(s, SSH_OPTIONS_HOST, where.host.c_str());
  if (ssh_options_parse_config(
          s, options.config_file.empty() ? nullptr : options.config_file.c_str()) < 0) {
    return Fail(
        ErrorCode::kInvalidArgument,
        "reading the SSH client configuration " +
            (options.config_file.empty() ? options.ssh_dir + "/config" : options.config_file) +
            ": " + ssh_get_error(s));
  }
  // The location and the options beat the configuration, as ssh's command line does.
  if (!where.user.empty()) ssh_options_set(s, SSH_OPTIONS_USER, where.user.c_str());
  if (where.port != 0) {
    const unsigned int port = static_cast<unsigned int>(where.port);
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
  }
  if (!options.known_hosts.empty()) {
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, options.known_hosts.c_str());
  }
  if (!options.identity.empty()) ssh_options_set(s, SSH_OPTIONS_IDENTITY, options.identity.c_str());
  const long timeout = options.timeout_seconds;
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);

  unsigned int port = 22;
  ssh_options_get_port(s, &port);
  char* host = nullptr;
  std::string endpoint = where.host;
  if (ssh_options_get(s, SSH_OPTIONS_HOST, &host) == SSH_OK) {
    endpoint = Endpoint(host, static_cast<int>(port));
    ssh_string_free_char(host);
  }
  if (ssh_connect(s) != SSH_OK) {
    return Fail(ErrorCode::kUnavailable,
                "cannot connect to the SFTP server " + endpoint + ": " + ssh_get_error(s));
  }
  HALLEY_RETURN_IF_ERROR(c->CheckHostKey(endpoint));
  HALLEY_RETURN_IF_ERROR(c->Authenticate(endpoint, options));
  c->sftp_ = sftp_new(s);
  if (c->sftp_ == nullptr || sftp_init(c->sftp_) != SSH_OK) {
    const bool up = ssh_is_connected(s) != 0 && ssh_get_error_code(s) != SSH_FATAL;
    return Fail(up ? ErrorCode::kNotSupported : ErrorCode::kUnavailable,
                "the SSH server " + endpoint + " did not start SFTP: " + ssh_get_error(s));
  }
  c->fsync_ = sftp_extension_supported(c->sftp_, "fsync@openssh.com", "1") != 0;
  return c;
}

Result<void> SftpBlobStore::Connection::CheckHostKey(const std::string& endpoint) {
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(ssh_, &key) != SSH_OK) {
    return Fail(ErrorCode::kUnavailable,
                "no host key from the SFTP server " + endpoint + ": " + ssh_get_error(ssh_));
  }
  std::string fingerprint = "?";
  unsigned char* hash = nullptr;
  size_t hash_len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) == 0) {
    if (char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len)) {
      fingerprint = fp;
      ssh_string_free_char(fp);
    }
    ssh_clean_pubkey_hash(&hash);
  }
  const std::string type = ssh_key_type_to_char(ssh_key_type(key));
  ssh_key_free(key);
  std::string file = "~/.ssh/known_hosts";
  if (char* kh = nullptr; ssh_options_get(ssh_, SSH_OPTIONS_KNOWNHOSTS, &kh) == SSH_OK) {
    file = kh;
    ssh_string_free_char(kh);
  }
  const std::string key_text = type + " key " + fingerprint;
  switch (ssh_session_is_known_server(ssh_)) {
    case SSH_KNOWN_HOSTS_OK:
      return {};
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return Fail(ErrorCode::kPermissionDenied,
                  "the host key of the SFTP server " + endpoint + " has CHANGED (it now shows " +
                      key_text + ", which " + file +
                      " does not hold for it): someone may be intercepting the connection, or "
                      "the server was reinstalled. Refusing to connect. If the change is "
                      "expected, remove the old key (ssh-keygen -R '" +
                      endpoint + "' -f " + file + ") and add the new one");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND: {
      const size_t bracket = endpoint.rfind("]:");
      const std::string keyscan = bracket == std::string::npos
                                      ? "ssh-keyscan " + endpoint
                                      : "ssh-keyscan -p " + endpoint.substr(bracket + 2) + " " +
                                            endpoint.substr(1, bracket - 1);
      return Fail(ErrorCode::kPermissionDenied,
                  "the host key of the SFTP server " + endpoint + " is unknown (" + key_text +
                      "; not in " + file +
                      "): refusing to connect. If that is the server's key, add it: " + keyscan +
                      " >> " + file +
                      " (or connect once with ssh), or name another file with "
                      "-o sftp.known-hosts=FILE");
    }
    case SSH_KNOWN_HOSTS_ERROR:
      break;
  }
  return Fail(ErrorCode::kIoError, "checking the host key of the SFTP server " + endpoint +
                                       " against " + file + ": " + ssh_get_error(ssh_));
}

Result<void> SftpBlobStore::Connection::Authenticate(const std::string& endpoint,
                                                     const SftpOptions& options) {
  const std::string& password = options.password;
  auto lost = [&] {
    return Fail(ErrorCode::kUnavailable,
                "authenticating to the SFTP server " + endpoint + ": " + ssh_get_error(ssh_));
  };
  int rc = ssh_userauth_none(ssh_, nullptr);
  if (rc == SSH_AUTH_SUCCESS) return {};
  if (rc == SSH_AUTH_ERROR) return lost();
  const int methods = ssh_userauth_list(ssh_, nullptr);
  std::string tried;
  if ((methods & SSH_AUTH_METHOD_PUBLICKEY) && !options.private_key.empty()) {
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_base64(options.private_key.c_str(), nullptr, nullptr, nullptr,
                                      &key) != SSH_OK) {
      return Fail(ErrorCode::kInvalidArgument,
                  "the SFTP private key cannot be read (not a private key, or it needs a "
                  "passphrase)");
    }
    rc = ssh_userauth_publickey(ssh_, nullptr, key);
    ssh_key_free(key);
    if (rc == SSH_AUTH_SUCCESS) return {};
    if (ssh_is_connected(ssh_) == 0) return lost();
    tried = "the given private key, ";
  }
  if (methods & SSH_AUTH_METHOD_PUBLICKEY) {
    // The agent's keys, then the identity files (the option's, the config's, the defaults).
    rc = ssh_userauth_publickey_auto(ssh_, nullptr, nullptr);
    if (rc == SSH_AUTH_SUCCESS) return {};
    if (ssh_is_connected(ssh_) == 0) return lost();
    tried += "the agent's and the identity files' keys";
  }
  if (!password.empty() && (methods & SSH_AUTH_METHOD_PASSWORD)) {
    rc = ssh_userauth_password(ssh_, nullptr, password.c_str());
    if (rc == SSH_AUTH_SUCCESS) return {};
    if (ssh_is_connected(ssh_) == 0) return lost();
    tried += std::string(tried.empty() ? "" : ", ") + "the password";
  } else if (!password.empty() && (methods & SSH_AUTH_METHOD_INTERACTIVE)) {
    // Servers that check passwords through PAM ask for them as keyboard-interactive prompts.
    rc = ssh_userauth_kbdint(ssh_, nullptr, nullptr);
    for (int round = 0; rc == SSH_AUTH_INFO && round < 4; ++round) {
      const int prompts = ssh_userauth_kbdint_getnprompts(ssh_);
      for (int i = 0; i < prompts; ++i) {
        char echo = 0;
        ssh_userauth_kbdint_getprompt(ssh_, static_cast<unsigned int>(i), &echo);
        ssh_userauth_kbdint_setanswer(ssh_, static_cast<unsigned int>(i),
                                      echo ? "" : password.c_str());
      }
      rc = ssh_userauth_kbdint(ssh_, nullptr, nullptr);
    }
    if (rc == SSH_AUTH_SUCCESS) return {};
    if (ssh_is_connected(ssh_) == 0) return lost();
    tried += std::string(tried.empty() ? "" : ", ") + "the password";
  }
  std::string user = "?";
  if (char* u = nullptr; ssh_options_get(ssh_, SSH_OPTIONS_USER, &u) == SSH_OK) {
    user = u;
    ssh_string_free_char(u);
  }
  return Fail(ErrorCode::kUnauthenticated,
              "the SFTP server " + endpoint + " refused user " + user + " (tried " +
                  (tried.empty() ? std::string("nothing the server accepts") : tried) +
                  (password.empty() ? "; no password given: BACKUP_TOOL_SFTP_PASSWORD" : "") + ")");
}

Result<void> SftpBlobStore::Connection::Read(const std::string& path, uint64_t offset,
                                             MutableByteView out, const SftpOptions& options) {
  httpclient::RateLimiter* limit = options.download_limit.get();
  Begin();
  sftp_file f = sftp_open(sftp_, path.c_str(), O_RDONLY, 0);
  if (f == nullptr) return Fail(Failure("open " + path));
  UniqueFile file(f);
  uint64_t pos = 0;  // bytes of `out` filled, in order
  while (pos < out.size()) {
    if (options.cancelled && options.cancelled()) {
      return Fail(ErrorCode::kCancelled, "reading " + path + ": interrupted");
    }
    // A window of requests from `pos`; each answer lands at its own place in `out`. A short
    // answer (a server may return less than asked) ends the window there: the next window
    // asks again from the first byte missing.
    Begin();
    if (sftp_seek64(f, offset + pos) != 0) return Fail(Failure("seek " + path));
    struct Request {
      uint32_t id;
      uint64_t at, len;
    };
    std::deque<Request> window;
    for (uint64_t at = pos; at < out.size() && window.size() < kReadWindow;) {
      const uint64_t len = std::min<uint64_t>(kPiece, out.size() - at);
      if (limit) limit->Acquire(len);
      Begin();
      const int id = sftp_async_read_begin(f, static_cast<uint32_t>(len));
      if (id < 0) return Fail(Failure("read " + path));
      window.push_back({static_cast<uint32_t>(id), at, len});
      at += len;
    }
    bool short_answer = false;
    for (const Request& r : window) {
      Begin();
      const int n = sftp_async_read(f, out.data() + r.at, static_cast<uint32_t>(r.len), r.id);
      if (n < 0) return Fail(Failure("read " + path));
      if (short_answer) continue;
      if (n == 0) {
        return Fail(ErrorCode::kCorruption, path + ": short read (the file ends at " +
                                                std::to_string(offset + r.at) + " bytes, " +
                                                std::to_string(offset + out.size()) + " wanted)");
      }
      pos = r.at + static_cast<uint64_t>(n);
      short_answer = static_cast<uint64_t>(n) < r.len;
    }
  }
  return {};
}

// A connection lent to one call; returns it to the pool (or drops it if broken) when done.
class SftpBlobStore::Lease {
 public:
  Lease(SftpBlobStore* store, std::unique_ptr<Connection> c) : store_(store), c_(std::move(c)) {}
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (c_) store_->Release(std::move(c_));
  }
  Connection& operator*() const { return *c_; }

 private:
  SftpBlobStore* store_;
  std::unique_ptr<Connection> c_;
};

SftpBlobStore::SftpBlobStore(SftpLocation where, std::string location, SftpOptions options)
    : where_(std::move(where)), location_(std::move(location)), options_(std::move(options)) {}

SftpBlobStore::~SftpBlobStore() = default;

Result<std::unique_ptr<SftpBlobStore>> SftpBlobStore::Open(std::string_view location,
                                                           SftpOptions options) {
  HALLEY_ASSIGN_OR_RETURN(SftpLocation where, ParseSftpLocation(location));
  if (options.connections < 1 || options.connections > 64) {
    return Fail(ErrorCode::kInvalidArgument, "sftp.connections must be between 1 and 64");
  }
  if (options.ssh_dir.empty()) options.ssh_dir = HomeDir() + "/.ssh";
  return std::unique_ptr<SftpBlobStore>(
      new SftpBlobStore(std::move(where), "sftp:" + std::string(location), std::move(options)));
}

std::string SftpBlobStore::Location() const { return location_; }

std::string SftpBlobStore::PathOf(const ObjectHandle& h) const {
  return (where_.path == "/" ? "" : where_.path) + "/" + h.Path();
}

std::string SftpBlobStore::DirOf(ObjectType type) const {
  return (where_.path == "/" ? "" : where_.path) + "/" + std::string(ObjectTypeDir(type));
}

Result<SftpBlobStore::Lease> SftpBlobStore::Acquire() {
  std::unique_lock lock(mu_);
  returned_.wait(lock, [&] { return !idle_.empty() || open_ < options_.connections; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(c));
  }
  ++open_;
  lock.unlock();
  auto c = Connection::Open(where_, options_);
  if (!c) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return Fail(c.error().WithContext(location_));
  }
  return Lease(this, std::move(*c));
}

void SftpBlobStore::Release(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mu_);
    if (c->Broken()) {
      --open_;
    } else {
      idle_.push_back(std::move(c));
    }
  }
  returned_.notify_one();
  // A broken connection is closed here, outside the lock.
}

Result<void> SftpBlobStore::Create() {
  HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
  Connection& c = *lease;
  const ObjectHandle config = ObjectHandle::Config();
  HALLEY_ASSIGN_OR_RETURN(auto existing, c.Stat(PathOf(config)));
  if (existing) return Fail(ErrorCode::kAlreadyExists, location_ + ": a vault already exists here");
  HALLEY_RETURN_IF_ERROR(c.MakeDirAll(where_.path));
  for (ObjectType type : kAllObjectTypes) {
    if (type == ObjectType::kConfig) continue;
    HALLEY_RETURN_IF_ERROR(c.MakeDir(DirOf(type)));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    HALLEY_RETURN_IF_ERROR(c.MakeDir(DirOf(ObjectType::kData) + "/" + kHex[i >> 4] + kHex[i & 15]));
  }
  return {};
}

Result<void> SftpBlobStore::Put(const ObjectHandle& h, ByteView data) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
  Connection& c = *lease;
  const std::string path = PathOf(h);
  HALLEY_ASSIGN_OR_RETURN(auto existing, c.Stat(path));
  if (existing) return AlreadyStored(c, h, data);
  const std::string dir = Parent(path);
  auto written = WriteAndRename(c, dir, path, data);
  if (!written && written.error().Code() == ErrorCode::kNotFound) {
    // A type or shard directory that copying tools dropped; never a missing root, which is a
    // mistyped location rather than a vault.
    HALLEY_ASSIGN_OR_RETURN(auto root, c.Stat(where_.path));
    if (!root) {
      return Fail(ErrorCode::kNotFound,
                  location_ + ": the directory " + where_.path + " does not exist on the server");
    }
    HALLEY_RETURN_IF_ERROR(c.MakeDirAll(dir));
    written = WriteAndRename(c, dir, path, data);
  }
  if (!written && written.error().Code() == ErrorCode::kAlreadyExists) {
    return AlreadyStored(c, h, data);
  }
  return written;
}

Result<void> SftpBlobStore::WriteAndRename(Connection& c, const std::string& dir,
                                           const std::string& path, ByteView data) const {
  const std::string tmp = dir + "/" + TempName();
  auto written = c.WriteNew(tmp, data, options_);
  if (written) written = c.Rename(tmp, path);
  if (written) return {};
  if (!c.Broken()) {
    // The rename's failure does not say why; a name now taken is the one case to tell apart.
    auto target = c.Stat(path);
    if (target && *target) written = Fail(ErrorCode::kAlreadyExists, path + ": file exists");
    // Best effort: what a dropped connection leaves, RemoveStaleTemporaries removes later.
    (void)c.Unlink(tmp);
  }
  return written;
}

Result<void> SftpBlobStore::AlreadyStored(Connection& c, const ObjectHandle& h,
                                          ByteView data) const {
  const std::string path = PathOf(h);
  auto exists = [&] {
    return Fail(ErrorCode::kAlreadyExists, location_ + ": " + h.Path() + " already exists");
  };
  // Only an object named by the SHA-256 of exactly these bytes can be a retry of this Put;
  // the config is named otherwise, and two writers of it must not both win.
  if (h.type == ObjectType::kConfig || httpclient::Sha256Hex(data) != h.name) return exists();
  HALLEY_ASSIGN_OR_RETURN(uint64_t size, c.Size(path));
  if (size != data.size()) return exists();
  Bytes stored(data.size());
  HALLEY_RETURN_IF_ERROR(c.Read(path, 0, stored, options_));
  if (!std::equal(stored.begin(), stored.end(), data.begin())) return exists();
  return {};
}

Result<Bytes> SftpBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
  Connection& c = *lease;
  const std::string path = PathOf(h);
  // The size first: the buffer is allocated only for a range that exists.
  HALLEY_ASSIGN_OR_RETURN(uint64_t size, c.Size(path));
  if (length == 0 && offset <= size) length = size - offset;
  if (offset > size || length > size - offset) {
    return Fail(ErrorCode::kCorruption,
                location_ + ": " + h.Path() + " is " + std::to_string(size) + " bytes, not " +
                    std::to_string(length) + " from " + std::to_string(offset));
  }
  Bytes out(length);
  HALLEY_RETURN_IF_ERROR(c.Read(path, offset, out, options_));
  return out;
}

Result<void> SftpBlobStore::ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  if (out.empty()) return {};
  if (offset > UINT64_MAX - out.size()) {
    return Fail(ErrorCode::kCorruption, location_ + ": " + h.Path() + ": read past the end");
  }
  HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return (*lease).Read(PathOf(h), offset, out, options_);
}

Result<uint64_t> SftpBlobStore::Stat(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return (*lease).Size(PathOf(h));
}

Result<std::vector<std::string>> SftpBlobStore::ObjectDirs(Connection& c, ObjectType type) const {
  const std::string dir = DirOf(type);
  if (type != ObjectType::kData) return std::vector<std::string>{dir};
  std::vector<std::string> dirs;
  auto shards = c.ReadDir(dir);
  if (!shards) {
    if (shards.error().Code() == ErrorCode::kNotFound) return dirs;
    return Fail(shards.error());
  }
  for (const auto& e : *shards) {
    if (e.type == SSH_FILEXFER_TYPE_DIRECTORY && IsShardName(e.name)) {
      dirs.push_back(dir + "/" + e.name);
    }
  }
  return dirs;
}

Result<void> SftpBlobStore::List(ObjectType type, const ListCallback& fn) {
  std::vector<ObjectInfo> objects;
  {
    // Collected first and handed out with no connection held, so that `fn` may use the store.
    HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
    Connection& c = *lease;
    if (type == ObjectType::kConfig) {
      HALLEY_ASSIGN_OR_RETURN(auto st, c.Stat(PathOf(ObjectHandle::Config())));
      if (st) objects.push_back({"config", st->size});
    } else {
      HALLEY_ASSIGN_OR_RETURN(auto dirs, ObjectDirs(c, type));
      for (const std::string& dir : dirs) {
        auto entries = c.ReadDir(dir);
        if (!entries && entries.error().Code() == ErrorCode::kNotFound) continue;
        if (!entries) return Fail(entries.error());
        for (auto& e : *entries) {
          if (e.type == SSH_FILEXFER_TYPE_REGULAR && IsObjectName(e.name)) {
            objects.push_back({std::move(e.name), e.size});
          }
        }
      }
    }
  }
  for (const ObjectInfo& o : objects) HALLEY_RETURN_IF_ERROR(fn(o));
  return {};
}

Result<void> SftpBlobStore::Remove(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return (*lease).Unlink(PathOf(h));
}

Result<size_t> SftpBlobStore::RemoveStaleTemporaries(std::chrono::seconds min_age) {
  HALLEY_ASSIGN_OR_RETURN(Lease lease, Acquire());
  Connection& c = *lease;
  const int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - min_age.count();
  size_t removed = 0;
  for (ObjectType type : kAllObjectTypes) {
    if (type == ObjectType::kConfig) continue;
    HALLEY_ASSIGN_OR_RETURN(auto dirs, ObjectDirs(c, type));
    if (type == ObjectType::kData) dirs.push_back(DirOf(type));
    for (const std::string& dir : dirs) {
      auto entries = c.ReadDir(dir);
      if (!entries && entries.error().Code() == ErrorCode::kNotFound) continue;
      if (!entries) return Fail(entries.error());
      for (const auto& e : *entries) {
        if (!e.name.starts_with(".tmp-") || static_cast<int64_t>(e.mtime) > cutoff) continue;
        HALLEY_RETURN_IF_ERROR(c.Unlink(dir + "/" + e.name));
        ++removed;
      }
    }
  }
  return removed;
}

}  // namespace halley::storage
