// SPDX-License-Identifier: Apache-2.0
#include "snapshot/snapshot.h"

#include <limits>
#include <utility>

#include "base/json.h"
#include "snapshot/go_json.h"

namespace halley::snapshot {
namespace {

using internal::AppendId;
using internal::AppendKey;
using internal::AppendStringArray;
using internal::AppendTime;
using internal::AppendUint;
using internal::GoZeroTime;
using internal::ReadId;
using internal::ReadString;
using internal::ReadStringArray;
using internal::ReadTime;
using internal::ReadUint;
using internal::ReadUint32;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

void AppendSummary(std::string& out, const SnapshotSummary& s) {
  out.push_back('{');
  AppendKey(out, "backup_start", /*first=*/true);
  AppendTime(out, s.backup_start);
  AppendKey(out, "backup_end");
  AppendTime(out, s.backup_end);
  const std::pair<const char*, uint64_t> counters[] = {
      {"files_new", s.files_new},
      {"files_changed", s.files_changed},
      {"files_unmodified", s.files_unmodified},
      {"dirs_new", s.dirs_new},
      {"dirs_changed", s.dirs_changed},
      {"dirs_unmodified", s.dirs_unmodified},
      {"data_blobs", s.data_blobs},
      {"tree_blobs", s.tree_blobs},
      {"data_added", s.data_added},
      {"data_added_packed", s.data_added_packed},
      {"total_files_processed", s.total_files_processed},
      {"total_bytes_processed", s.total_bytes_processed},
  };
  for (const auto& [key, value] : counters) {
    AppendKey(out, key);
    AppendUint(out, value);
  }
  out.push_back('}');
}

Result<SnapshotSummary> DecodeSummary(const Json& j) {
  if (!j.is_object()) return Fail(ErrorCode::kCorruption, "field \"summary\" is not an object");
  SnapshotSummary s;
  s.backup_start = s.backup_end = GoZeroTime();
  const std::pair<const char*, uint64_t*> counters[] = {
      {"files_new", &s.files_new},
      {"files_changed", &s.files_changed},
      {"files_unmodified", &s.files_unmodified},
      {"dirs_new", &s.dirs_new},
      {"dirs_changed", &s.dirs_changed},
      {"dirs_unmodified", &s.dirs_unmodified},
      {"data_blobs", &s.data_blobs},
      {"tree_blobs", &s.tree_blobs},
      {"data_added", &s.data_added},
      {"data_added_packed", &s.data_added_packed},
      {"total_files_processed", &s.total_files_processed},
      {"total_bytes_processed", &s.total_bytes_processed},
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "backup_start") {
      HALLEY_RETURN_IF_ERROR(ReadTime(it.value(), "summary.backup_start", s.backup_start));
    } else if (key == "backup_end") {
      HALLEY_RETURN_IF_ERROR(ReadTime(it.value(), "summary.backup_end", s.backup_end));
    } else {
      for (const auto& [name, field] : counters) {
        if (key == name) HALLEY_RETURN_IF_ERROR(ReadUint(it.value(), name, kMaxU64, *field));
      }
    }
  }
  return s;
}

}  // namespace

std::string EncodeSnapshot(const Snapshot& s) {
  std::string out;
  out.reserve(512);
  out.push_back('{');
  AppendKey(out, "time", /*first=*/true);
  AppendTime(out, s.time);
  if (s.parent) {
    AppendKey(out, "parent");
    AppendId(out, *s.parent);
  }
  AppendKey(out, "tree");
  AppendId(out, s.tree);
  AppendKey(out, "paths");
  AppendStringArray(out, s.paths);
  if (!s.hostname.empty()) {
    AppendKey(out, "hostname");
    AppendGoJsonString(out, s.hostname);
  }
  if (!s.username.empty()) {
    AppendKey(out, "username");
    AppendGoJsonString(out, s.username);
  }
  if (s.uid != 0) {
    AppendKey(out, "uid");
    AppendUint(out, s.uid);
  }
  if (s.gid != 0) {
    AppendKey(out, "gid");
    AppendUint(out, s.gid);
  }
  if (!s.excludes.empty()) {
    AppendKey(out, "excludes");
    AppendStringArray(out, s.excludes);
  }
  if (!s.tags.empty()) {
    AppendKey(out, "tags");
    AppendStringArray(out, s.tags);
  }
  if (s.original) {
    AppendKey(out, "original");
    AppendId(out, *s.original);
  }
  if (!s.program_version.empty()) {
    AppendKey(out, "program_version");
    AppendGoJsonString(out, s.program_version);
  }
  if (s.summary) {
    AppendKey(out, "summary");
    AppendSummary(out, *s.summary);
  }
  out.push_back('}');
  return out;
}

Result<Snapshot> DecodeSnapshot(std::string_view json) {
  HALLEY_ASSIGN_OR_RETURN(Json doc, ParseJson(json));
  if (!doc.is_object()) return Fail(ErrorCode::kCorruption, "snapshot is not a JSON object");
  Snapshot s;
  bool have_time = false;
  std::optional<Id> tree;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    if (key == "time") {
      have_time = !v.is_null();
      HALLEY_RETURN_IF_ERROR(ReadTime(v, "time", s.time));
    } else if (key == "parent") {
      HALLEY_RETURN_IF_ERROR(ReadId(v, "parent", s.parent));
    } else if (key == "tree") {
      HALLEY_RETURN_IF_ERROR(ReadId(v, "tree", tree));
    } else if (key == "paths") {
      HALLEY_RETURN_IF_ERROR(ReadStringArray(v, "paths", s.paths));
    } else if (key == "hostname") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "hostname", s.hostname));
    } else if (key == "username") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "username", s.username));
    } else if (key == "uid") {
      HALLEY_RETURN_IF_ERROR(ReadUint32(v, "uid", s.uid));
    } else if (key == "gid") {
      HALLEY_RETURN_IF_ERROR(ReadUint32(v, "gid", s.gid));
    } else if (key == "excludes") {
      HALLEY_RETURN_IF_ERROR(ReadStringArray(v, "excludes", s.excludes));
    } else if (key == "tags") {
      HALLEY_RETURN_IF_ERROR(ReadStringArray(v, "tags", s.tags));
    } else if (key == "original") {
      HALLEY_RETURN_IF_ERROR(ReadId(v, "original", s.original));
    } else if (key == "program_version") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "program_version", s.program_version));
    } else if (key == "summary") {
      if (v.is_null()) continue;
      HALLEY_ASSIGN_OR_RETURN(s.summary, DecodeSummary(v));
    }
  }
  if (!have_time) return Fail(ErrorCode::kCorruption, "snapshot has no time");
  if (!tree) return Fail(ErrorCode::kCorruption, "snapshot has no tree");
  s.tree = *tree;
  return s;
}

}  // namespace halley::snapshot
