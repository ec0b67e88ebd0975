// SPDX-License-Identifier: Apache-2.0
//
// A vault in a directory of an SSH server, over SFTP (libssh), in the same layout as every
// other store (config, data/xx/<id>, keys/<id>, ...), so that it moves to and from a disk or
// a bucket by copying files and restic's sftp: backend reads it.
//
// Connecting reads the user's OpenSSH client configuration ($HOME/.ssh/config, or the file
// given; then /etc/ssh/ssh_config), so Host aliases, HostName, Port, User, IdentityFile and
// UserKnownHostsFile work as they do for ssh. The server's host key must already be in the
// known_hosts file ($HOME/.ssh/known_hosts, the config's, or the one given, then
// /etc/ssh/ssh_known_hosts): an unknown key is refused with the fingerprint and the command
// that adds it, a changed key is refused as a possible attack. Authentication tries the agent
// (SSH_AUTH_SOCK), then the identity files, then the password if one is given.
//
//   Create   mkdir -p the root, then every type directory and the 256 data shards
//   Put      stat (no overwrite); open .tmp-<hex> in the object's directory exclusively, write,
//            fsync (fsync@openssh.com), close, rename to the final name (SFTP's rename never
//            replaces an existing file; OpenSSH links then unlinks)
//   Get      open, then pipelined reads of 64 KiB straight into the caller's buffer
//   Stat     stat
//   List     readdir of the type directory (and of every data shard)
//   Remove   unlink (a missing file is success)
//
// As on the other remote stores, a Put of a content-named object (its name the SHA-256 of the
// bytes) that finds exactly those bytes already stored succeeds (a retry of a write whose rename
// went through while the connection dropped); the config never does. Directory entries cannot be
// fsynced over SFTP: a rename is as durable as the server's filesystem makes it.
//
// Errors: SFTP status codes map to our kinds (no such file kNotFound, permission denied
// kPermissionDenied, no space or quota kNoSpace); a lost or failed connection is kUnavailable
// (wrap the store in a RetryingBlobStore to reconnect), host key problems kPermissionDenied,
// refused credentials kUnauthenticated.
//
// Thread-safe: a libssh session serves one thread at a time, so calls take a connection from
// a pool that grows on demand up to `connections`; a connection that failed is dropped and the
// next call opens a new one.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "httpclient/rate_limiter.h"
#include "storage/blob_store.h"

namespace halley::storage {

struct SftpOptions {
  std::string ssh_dir = {};      // "" : $HOME/.ssh (the passwd entry's home without $HOME)
  std::string config_file = {};  // "" : <ssh_dir>/config, then /etc/ssh/ssh_config
  std::string known_hosts = {};  // "" : the config's UserKnownHostsFile or <ssh_dir>/known_hosts
  std::string identity = {};     // a private key tried before the default ones
  std::string password = {};     // tried after the keys; "" : no password authentication
  std::string private_key = {};  // a private key itself (PEM), tried first (a profile's)
  int connections = 4;           // at most this many SSH connections at once (1-64)
  int timeout_seconds = 60;      // connecting, and waiting for any one answer
  std::shared_ptr<httpclient::RateLimiter> upload_limit = {};
  std::shared_ptr<httpclient::RateLimiter> download_limit = {};
  // Polled between the pieces of a transfer; true ends it with kCancelled.
  std::function<bool()> cancelled = {};
};

// Where an sftp: location points. `location` is what follows "sftp:", in either form:
//   [user@]host[:port]:path        path absolute if it starts with '/', else from the home dir
//   //[user@]host[:port]/path      restic's URL form: relative to home; "//host//abs" absolute
// Hosts may be bracketed IPv6 addresses ("[::1]").
struct SftpLocation {
  std::string user;  // "" : from the config, else the local user name
  std::string host;
  int port = 0;      // 0 : from the config, else 22
  std::string path;  // without a trailing '/' (except "/" itself)
};
Result<SftpLocation> ParseSftpLocation(std::string_view location);

class SftpBlobStore final : public BlobStore {
 public:
  // kInvalidArgument for a malformed location or bad options. Does not connect.
  static Result<std::unique_ptr<SftpBlobStore>> Open(std::string_view location,
                                                     SftpOptions options);
  ~SftpBlobStore() override;

  // "sftp:user@host:port:/path" (as given; never a password).
  std::string Location() const override;
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) override;
  Result<void> ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) override;
  Result<uint64_t> Stat(const ObjectHandle& h) override;
  Result<void> List(ObjectType type, const ListCallback& fn) override;
  Result<void> Remove(const ObjectHandle& h) override;
  Result<size_t> RemoveStaleTemporaries(std::chrono::seconds min_age) override;

 private:
  class Connection;
  class Lease;

  SftpBlobStore(SftpLocation where, std::string location, SftpOptions options);

  // A connection for the calling thread: an idle one, a new one, or (at the limit) the next
  // one returned. Connecting checks the host key and authenticates.
  Result<Lease> Acquire();
  void Release(std::unique_ptr<Connection> c);

  std::string PathOf(const ObjectHandle& h) const;  // root + "/" + h.Path()
  std::string DirOf(ObjectType type) const;         // root + "/" + "data" (no shard)
  // The directories of `type` that hold objects: the type directory, or data's shards.
  Result<std::vector<std::string>> ObjectDirs(Connection& c, ObjectType type) const;
  Result<void> ReadInto(Connection& c, const ObjectHandle& h, uint64_t offset, MutableByteView out,
                        bool to_end) const;
  // Writes `data` to a fresh temporary file in `dir` and renames it to `path`.
  Result<void> WriteAndRename(Connection& c, const std::string& dir, const std::string& path,
                              ByteView data) const;
  // A Put found `h` already stored: success if it holds exactly `data` (see above).
  Result<void> AlreadyStored(Connection& c, const ObjectHandle& h, ByteView data) const;

  const SftpLocation where_;
  const std::string location_;
  const SftpOptions options_;

  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_ = 0;                                   // connections in existence; guarded by mu_
};

}  // namespace halley::storage
