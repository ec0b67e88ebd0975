// SPDX-License-Identifier: Apache-2.0
//
// The checker (`backup-tool check`, the spec's "Data validation" and "Deep verify Vault
// contents"): verifies a vault without changing it. What it checks, in restic's order
// (restic.md §4.1):
//
//  1. key files: each one's SHA-256 equals its name and it decodes;
//  2. load indexes: every index file is read and decoded on its own, so that a damaged one is
//     reported ("error loading index <id>: Load(<index/1234567890>): ...") and the others still
//     count; hints for a pack listed by several index files, with different data in them, or
//     mixing tree and data blobs;
//  3. check all packs: the listing of data/ against the index (missing packs, unexpected sizes,
//     unindexed packs). When index files failed to load, the headers of the unindexed packs
//     are read so that the rest of the check knows what they hold (as rebuild-index would);
//  4. check snapshots, trees and blobs: the tree packs are downloaded whole (once, into a
//     temporary directory removed at the end) and verified like --read-data verifies a pack;
//     every snapshot is loaded and every reachable tree walked once, checking each node as
//     restic does and that every blob it references is indexed and stored intact;
//  5. packindex files: each decodes and names only indexed packs;
//  6. read data (options.read_data, for a subset of the packs) reads every selected pack and
//     verifies its name, header and every blob; deep (options.deep) reads the headers of all
//     data packs instead, with ranged reads;
//  7. every snapshot that depends on a missing or damaged blob, tree or pack is named:
//     "<snapshot/1a2b3c4d> depends on missing [...]", exactly the snapshots affected.
//
// Transient faults never produce a report: an object whose bytes do not hash to its name is
// read once more; if that read is clean only a notice remains. If two reads fail with
// different bytes the storage or transport is unreliable and the object is read again, up to
// four reads in all, until two reads agree (the stored bytes are damaged: reported) or one is
// clean (notice). The chance that transient faults cause a false report is thus p^4 per
// object when each read is corrupted with probability p.
//
// Check takes no lock (the caller does: restic's check takes an exclusive one) and writes
// nothing into the vault. Memory: the index, one set of IDs of referenced data blobs, and for
// each reading thread one window of a pack (16 MiB) plus its largest blob.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "engine/references.h"  // the spec's message forms
#include "repo/repository.h"
#include "storage/blob_store.h"

namespace halley::engine {

// Which packs read_data reads (restic's --read-data-subset).
struct ReadDataSubset {
  enum class Kind { kAll, kBucket, kPercent, kBytes };
  Kind kind = Kind::kAll;
  uint32_t n = 1, t = 1;  // kBucket: the packs whose first ID byte % t == n - 1
  double percent = 100;   // kPercent: this share of the packs, chosen at random
  uint64_t bytes = 0;     // kBytes: a random set of packs of about this many bytes
};

// Parses "n/t" (1 <= n <= t <= 256), "x%" (0 < x <= 100) or a size such as "500M" (suffixes
// k, M, G, T, powers of 1024; no suffix: bytes). kInvalidArgument otherwise.
Result<ReadDataSubset> ParseReadDataSubset(std::string_view text);

// The packs of `packs` (ID -> size) that `subset` selects; sorted. Random choices draw from
// `seed`. kPercent and kBytes select at least one pack when there is any.
std::vector<Id> SelectPacks(const std::map<Id, uint64_t>& packs, const ReadDataSubset& subset,
                            uint64_t seed);

// One finding.
struct CheckMessage {
  std::string text;
  // For errors found in a tree or while loading it: the tree (restic prints these grouped
  // under "error for tree <short>:").
  std::optional<Id> tree;
  // The vault path of the file to blame ("data/ab/ab12...", "index/...", "snapshots/..."), if
  // a stored file is damaged.
  std::string path;
};

enum class CheckEventKind {
  kPhase,     // a step starts; text is restic's line ("load indexes", "check all packs", ...)
  kInfo,      // other informational text ("using temporary cache in ...")
  kProgress,  // done / total of unit ("snapshots", "packs")
  kError,     // a critical finding (message)
  kNotice,    // a non-critical finding (message)
};

struct CheckEvent {
  CheckEventKind kind;
  std::string text;      // kPhase, kInfo
  CheckMessage message;  // kError, kNotice
  uint64_t done = 0, total = 0;
  std::string unit;  // kProgress
};

// Called from one thread at a time (the checker serialises the calls), possibly not the
// caller's. Must not call back into the checker.
using CheckEventFn = std::function<void(const CheckEvent&)>;

struct CheckOptions {
  bool read_data = false;  // read and verify every pack that `subset` selects
  ReadDataSubset subset;
  // The spec's deep verify: also read the header of every data pack (ranged reads). Tree
  // packs are always read whole. Implied by read_data for the packs it reads.
  bool deep = false;
  int threads = 0;        // packs read in parallel; 0: 3
  std::string temp_dir;   // where the temporary directory goes; default $TMPDIR, else /tmp
  uint64_t seed = 0;      // for random subsets; 0: random
  CheckEventFn on_event;  // optional
  std::stop_token stop;
};

struct CheckReport {
  std::vector<CheckMessage> errors;   // critical: the vault is damaged
  std::vector<CheckMessage> notices;  // non-critical
  std::set<Id> broken_packs;          // missing, truncated or damaged packs
  // Snapshots that cannot be restored completely, with what each depends on (short IDs of
  // missing or damaged packs, or of blobs no index lists). An unreadable snapshot file maps
  // to an empty list.
  std::map<Id, std::vector<std::string>> damaged_snapshots;
  std::set<std::string> damaged_files;  // vault paths of files that are damaged
  bool suggest_rebuild_index = false;
  bool suggest_prune = false;

  uint64_t snapshots = 0;   // snapshot files
  uint64_t trees = 0;       // distinct trees walked
  uint64_t data_blobs = 0;  // distinct data blobs referenced
  uint64_t packs = 0;       // packs in the index
  uint64_t packs_read = 0;  // packs read whole
  uint64_t bytes_read = 0;  // bytes downloaded, all reads together
  uint64_t rereads = 0;     // reads repeated because the bytes did not match their name
  std::string temp_dir;     // the temporary directory that was used (removed by now)

  bool Ok() const { return errors.empty(); }
};

// Runs the check. The result holds the findings; the call itself fails only when the vault
// cannot be listed (storage unreachable), on kCancelled when options.stop is requested, or if
// no temporary directory can be made. Does not modify `repo`'s in-memory index either.
Result<CheckReport> Check(repo::Repository& repo, const CheckOptions& options);

// Checks the key files of a vault without opening it, so that it works when no key opens:
// each file's SHA-256 must equal its name and it must decode as a key file. Returns one
// message per damaged key file (path "keys/<id>").
Result<std::vector<CheckMessage>> CheckKeyFiles(storage::BlobStore& store);

}  // namespace halley::engine
