// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the browsing subcommands (ls, find, diff, cat, stats): a cache of decoded
// tree blobs, path arithmetic for paths inside a snapshot, choosing snapshots from the command
// line, and resolving ID prefixes of stored files. Not thread-safe; each command uses its own.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "engine/snapshots.h"
#include "repo/repository.h"
#include "snapshot/tree.h"
#include "storage/blob_store.h"

namespace halley::cli {

class Cli;

// Loads trees through Repository::LoadBlob and keeps the most recently loaded ones (up to about
// `budget` bytes of decoded nodes), so that walking many snapshots that share subtrees loads
// each shared tree once.
class TreeCache {
 public:
  using TreePtr = std::shared_ptr<const snapshot::Tree>;

  explicit TreeCache(repo::Repository& repo, size_t budget = size_t{64} << 20)
      : repo_(repo), budget_(budget) {}
  // The decoded tree; errors as engine::LoadTree.
  Result<TreePtr> Load(const Id& id);
  repo::Repository& Repo() const { return repo_; }

 private:
  struct Entry {
    TreePtr tree;
    size_t cost = 0;
    uint64_t last_use = 0;
  };
  void Evict();

  repo::Repository& repo_;
  size_t budget_;
  size_t used_ = 0;
  uint64_t clock_ = 0;
  std::unordered_map<Id, Entry, IdHash> entries_;
};

// "/a/b" from "/a" and "b"; the root "/" and "" are both treated as the root.
std::string JoinPath(const std::string& dir, const std::string& name);
// "a//b/" -> "/a/b"; "" and "/" -> "/".
std::string CleanPath(const std::string& path);
// True if `path` equals `dir` or lies beneath it (both clean).
bool PathWithin(const std::string& path, const std::string& dir);
// The parent of a clean path ("/a/b" -> "/a", "/a" -> "/").
std::string ParentPath(const std::string& path);

// The snapshots named on the command line (IDs, unique prefixes or "latest", which honours
// `filter`), or every snapshot matching `filter` when `refs` is empty, oldest first. Unreadable
// snapshot files are reported as warnings when listing all.
Result<std::vector<engine::SnapshotEntry>> SelectSnapshots(const Cli& cli, repo::Repository& repo,
                                                           const std::vector<std::string>& refs,
                                                           const engine::SnapshotFilter& filter);

// Resolves a full ID or a unique prefix of a stored file of `type`. kNotFound if nothing
// matches, kInvalidArgument for a malformed or ambiguous prefix.
Result<Id> ResolveObjectId(storage::BlobStore& store, storage::ObjectType type,
                           const std::string& prefix);

// Long listings go to stdout, often into `| head`. Writing to a closed pipe must not kill the
// process (that would leave its lock file behind), so these commands ignore SIGPIPE and stop
// walking once stdout has failed.
void IgnoreSigpipe();
bool OutputClosed();
// kCancelled after SIGINT/SIGTERM or once stdout is closed; the walkers check it per tree.
Result<void> CheckContinue(const Cli& cli);
// The exit code for a walk that ended with `e`: silent failure if stdout was closed.
int WalkFailed(const Cli& cli, const Error& e);

// True if `s` is 1-64 lower-case hex digits.
bool IsHexPrefix(const std::string& s);

}  // namespace halley::cli
