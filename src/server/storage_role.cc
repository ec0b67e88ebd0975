// SPDX-License-Identifier: Apache-2.0
#include "server/storage_role.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <variant>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "server/status.h"
#include "storage/local_blob_store.h"
#include "storage/spanned_blob_store.h"

namespace halley::server {
namespace {

using httpd::Request;
using httpd::Response;
using storage::ObjectHandle;
using storage::ObjectType;

constexpr char kV2[] = "application/vnd.x.restic.rest.v2";
constexpr char kV1[] = "application/vnd.x.restic.rest.v1";
constexpr size_t kUploadChunk = 1 << 20;

Response Status(int status, std::string_view text) {
  return Response::Text(status, std::string(text) + "\n");
}

Response ErrorResponse(const Error& e) { return Status(HttpStatus(e.Code()), e.Message()); }

Response Unauthorized() {
  Response r = Status(401, "Unauthorized");
  r.SetHeader("WWW-Authenticate", "Basic realm=\"halleyd storage\"");
  return r;
}

std::optional<ObjectType> TypeFromDir(std::string_view dir) {
  for (ObjectType t : storage::kAllObjectTypes) {
    if (t != ObjectType::kConfig && storage::ObjectTypeDir(t) == dir) return t;
  }
  return std::nullopt;
}

// Decodes "Authorization: Basic base64(user:password)".
bool BasicCredentials(const Request& req, std::string& user, std::string& password) {
  std::string_view h = req.Header("authorization");
  constexpr std::string_view kBasic = "Basic ";
  if (h.size() <= kBasic.size() || h.substr(0, kBasic.size()) != kBasic) return false;
  auto decoded = Base64Decode(h.substr(kBasic.size()));
  if (!decoded) return false;
  const std::string text = ToString(*decoded);
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  user = text.substr(0, colon);
  password = text.substr(colon + 1);
  return true;
}

// Parses "bytes=A-B" or "bytes=A-" against an object of `size` bytes. Returns false for a
// header we do not understand (the whole object is sent, as RFC 9110 allows).
bool ParseRange(std::string_view h, uint64_t size, uint64_t& offset, uint64_t& length,
                bool& unsatisfiable) {
  constexpr std::string_view kBytes = "bytes=";
  unsatisfiable = false;
  if (h.substr(0, kBytes.size()) != kBytes) return false;
  h.remove_prefix(kBytes.size());
  const size_t dash = h.find('-');
  if (dash == std::string_view::npos || dash == 0 || h.find(',') != std::string_view::npos) {
    return false;
  }
  auto number = [](std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  uint64_t first = 0, last = 0;
  if (!number(h.substr(0, dash), first)) return false;
  const std::string_view last_text = h.substr(dash + 1);
  if (last_text.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!number(last_text, last) || last < first) {
    return false;
  }
  if (first >= size) {
    unsatisfiable = true;
    return true;
  }
  last = std::min(last, size - 1);
  offset = first;
  length = last - first + 1;
  return true;
}

Response GetObject(storage::BlobStore& store, const ObjectHandle& h, const Request& req) {
  auto size = store.Stat(h);
  if (!size) return ErrorResponse(size.error());
  Response r;
  r.SetHeader("Content-Type", "application/octet-stream");
  if (req.method == "HEAD") {
    r.head_content_length = *size;
    return r;
  }
  uint64_t offset = 0, length = *size;
  bool unsatisfiable = false;
  const std::string_view range = req.Header("range");
  const bool partial = !range.empty() && ParseRange(range, *size, offset, length, unsatisfiable);
  if (unsatisfiable) {
    Response bad = Status(416, "Range Not Satisfiable");
    bad.SetHeader("Content-Range", "bytes */" + std::to_string(*size));
    return bad;
  }
  if (length > 0) {
    r.body.resize(length);
    auto read = store.ReadAt(
        h, offset, MutableByteView(reinterpret_cast<uint8_t*>(r.body.data()), r.body.size()));
    if (!read) return ErrorResponse(read.error());
  }
  if (partial) {
    r.status = 206;
    r.SetHeader("Content-Range", "bytes " + std::to_string(offset) + "-" +
                                     std::to_string(offset + length - 1) + "/" +
                                     std::to_string(*size));
  }
  return r;
}

Response OverLimit(uint64_t limit) {
  return Status(
      507, "the bucket's storage limit of " + std::to_string(limit) + " bytes would be exceeded");
}

struct Streamed {
  uint64_t size = 0;
  std::string sha256;  // hex
};

// Reads the request body in chunks, hashing it and handing each chunk to `sink`. More than
// `room` bytes end it with `too_big` (a chunked body has no Content-Length to check first).
std::variant<Response, Streamed> StreamBody(const ObjectHandle& h, Request& req, uint64_t room,
                                            const Response& too_big,
                                            const std::function<Result<void>(ByteView)>& sink) {
  crypto::Sha256Hasher hasher;
  Bytes buf(kUploadChunk);
  uint64_t total = 0;
  for (;;) {
    auto n = req.body->Read(MutableByteView(buf.data(), buf.size()));
    if (!n) return Status(400, "upload of " + h.Path() + " failed: " + n.error().Message());
    if (*n == 0) break;
    if (*n > room - total) return too_big;
    const ByteView piece(buf.data(), *n);
    hasher.Update(piece);
    if (auto w = sink(piece); !w) return ErrorResponse(w.error());
    total += *n;
  }
  if (req.content_length && total != *req.content_length) {
    return Status(400, "upload of " + h.Path() + " is truncated");
  }
  return Streamed{total, hasher.Finish().Hex()};
}

Response Mismatch(const ObjectHandle& h) {
  return Status(400, "upload of " + h.Path() + ": content does not match its SHA-256 name");
}

// The answer to an upload of an existing content-named object: 200 if the body is that content
// (its SHA-256 is the name and its size the stored size), else 400; nothing is written.
Response AcknowledgeRetry(const ObjectHandle& h, Request& req, uint64_t stored_size) {
  if (req.content_length && *req.content_length != stored_size) return Mismatch(h);
  auto body =
      StreamBody(h, req, stored_size, Mismatch(h), [](ByteView) -> Result<void> { return {}; });
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  const auto& got = std::get<Streamed>(body);
  if (got.size != stored_size || got.sha256 != h.name) return Mismatch(h);
  return Status(200, "OK (already stored)");
}

// Stores the request body as `h`: at most `room` bytes (507 beyond), checked against its name
// when `verify`. `written` receives the stored size on success.
Response PutObject(storage::BlobStore& store, const ObjectHandle& h, Request& req, bool verify,
                   uint64_t room, uint64_t limit, uint64_t& written) {
  if (auto existing = store.Stat(h); existing) {
    // Never overwritten. But a client whose upload was stored while the reply was lost (the
    // server crashed, the connection broke) retries it: when the body is exactly the object
    // already stored, which a verifying server knows from its name, acknowledge it.
    if (verify && h.type != ObjectType::kConfig) return AcknowledgeRetry(h, req, *existing);
    return Status(403, h.Path() + " already exists");
  } else if (existing.error().Code() != ErrorCode::kNotFound) {
    return ErrorResponse(existing.error());
  }
  if (req.content_length && *req.content_length > room) return OverLimit(limit);
  const size_t hint =
      static_cast<size_t>(std::min<uint64_t>(req.content_length.value_or(0), uint64_t{64} << 20));
  auto writer = store.NewWriter(h.type, hint);
  if (!writer) return ErrorResponse(writer.error());
  auto body = StreamBody(h, req, room, OverLimit(limit),
                         [&](ByteView piece) { return (*writer)->Write(piece); });
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  const auto& got = std::get<Streamed>(body);
  if (verify && h.type != ObjectType::kConfig && got.sha256 != h.name) return Mismatch(h);
  if (auto c = (*writer)->Commit(h); !c) return ErrorResponse(c.error());
  written = got.size;
  return Status(200, "OK");
}

Response ListObjects(storage::BlobStore& store, ObjectType type, const Request& req) {
  const bool v2 = req.Header("accept") == kV2;
  Json list = Json::array();
  auto listed = store.List(type, [&](const storage::ObjectInfo& info) -> Result<void> {
    if (v2) {
      list.push_back({{"name", info.name}, {"size", info.size}});
    } else {
      list.push_back(info.name);
    }
    return {};
  });
  if (!listed) return ErrorResponse(listed.error());
  Response r = Response::Json(list.dump());
  r.headers.clear();
  r.SetHeader("Content-Type", v2 ? kV2 : kV1);
  return r;
}

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace

Response StorageRole::ObjectRequest(storage::BlobStore& store, const BucketProperties& bucket,
                                    const ObjectHandle& h, Request& req) {
  if (req.method == "GET" || req.method == "HEAD") return GetObject(store, h, req);
  const uint64_t limit = bucket.limit_bytes;
  if (req.method == "POST") {
    uint64_t room = UINT64_MAX;
    if (limit > 0) {
      auto used = Used(bucket.id, store);
      if (!used) return ErrorResponse(used.error());
      room = limit > *used ? limit - *used : 0;
    }
    uint64_t written = 0;
    Response r = PutObject(store, h, req, verify_uploads_, room, limit, written);
    if (limit > 0 && r.status == 200) AddUsed(bucket.id, static_cast<int64_t>(written));
    return r;
  }
  if (req.method == "DELETE") {
    const auto size = limit > 0 ? store.Stat(h) : Result<uint64_t>(uint64_t{0});
    auto removed = store.Remove(h);
    if (!removed) return ErrorResponse(removed.error());
    if (size) AddUsed(bucket.id, -static_cast<int64_t>(*size));
    return Status(200, "OK");
  }
  return Status(405, "Method Not Allowed");
}

Result<uint64_t> StorageRole::Used(const std::string& id, storage::BlobStore& store) {
  {
    std::lock_guard lock(mu_);
    if (auto it = used_.find(id); it != used_.end()) return it->second;
  }
  HALLEY_ASSIGN_OR_RETURN(uint64_t measured, Measure(store));
  std::lock_guard lock(mu_);
  return used_.try_emplace(id, measured).first->second;
}

void StorageRole::AddUsed(const std::string& id, int64_t delta) {
  std::lock_guard lock(mu_);
  auto it = used_.find(id);
  if (it == used_.end()) return;
  it->second = delta < 0 && static_cast<uint64_t>(-delta) > it->second
                   ? 0
                   : it->second + static_cast<uint64_t>(delta);
}

Result<std::shared_ptr<storage::BlobStore>> StorageRole::OpenBucket(const std::string& id) {
  if (!BucketRegistry::ValidId(id)) return Fail(ErrorCode::kInvalidArgument, "bad bucket ID");
  std::lock_guard lock(mu_);
  if (auto it = open_.find(id); it != open_.end()) return it->second;
  std::shared_ptr<storage::BlobStore> store;
  const std::vector<std::string>& volumes = storage_.volumes;
  if (storage_.open_remote) {
    HALLEY_ASSIGN_OR_RETURN(store, storage_.open_remote(id));
  } else if (volumes.size() == 1) {
    HALLEY_ASSIGN_OR_RETURN(store, storage::LocalBlobStore::Open(volumes[0] + "/" + id));
  } else {
    // A bucket created before a volume was added gets its directory there too, so that the
    // new volume can take new objects (the layout below the root is made on demand).
    bool anywhere = false;
    for (const std::string& volume : volumes) {
      anywhere = anywhere || ::access((volume + "/" + id).c_str(), F_OK) == 0;
    }
    if (anywhere) {
      for (const std::string& volume : volumes) ::mkdir((volume + "/" + id).c_str(), 0700);
    }
    std::vector<storage::SpannedBlobStore::Member> members;
    for (const std::string& volume : volumes) {
      HALLEY_ASSIGN_OR_RETURN(auto member, storage::LocalBlobStore::Open(volume + "/" + id));
      members.push_back({std::move(member), [volume] { return FreeBytes(volume); }});
    }
    HALLEY_ASSIGN_OR_RETURN(store, storage::SpannedBlobStore::Open(std::move(members)));
  }
  open_[id] = store;
  return store;
}

Response StorageRole::Handle(Request& req) {
  // /storage/<bucket>[/<rest>]
  std::string_view path = req.path;
  path.remove_prefix(std::string_view("/storage/").size());
  const size_t slash = path.find('/');
  const std::string bucket(path.substr(0, slash));
  const std::string_view rest =
      slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);

  std::string user, password;
  if (!BasicCredentials(req, user, password) || user != bucket ||
      !buckets_.CheckKey(bucket, password)) {
    return Unauthorized();
  }
  auto props = buckets_.Get(bucket);
  if (!props) return Unauthorized();  // deleted since the key was checked
  auto store = OpenBucket(bucket);
  if (!store) return ErrorResponse(store.error());
  const std::string& m = req.method;

  if (rest.empty()) {
    if (m != "POST") return Status(405, "Method Not Allowed");
    if (req.query != "create=true")
      return Status(400, "POST to the bucket root needs ?create=true");
    auto created = (*store)->Create();
    if (!created && created.error().Code() != ErrorCode::kAlreadyExists) {
      return ErrorResponse(created.error());
    }
    return Status(200, "OK");
  }
  if (rest == "config") return ObjectRequest(**store, *props, ObjectHandle::Config(), req);
  const size_t type_end = rest.find('/');
  const auto type = TypeFromDir(rest.substr(0, type_end));
  if (!type || type_end == std::string_view::npos) return Status(404, "Not Found");
  const std::string_view name = rest.substr(type_end + 1);
  if (name.empty()) {
    if (m != "GET") return Status(405, "Method Not Allowed");
    return ListObjects(**store, *type, req);
  }
  const ObjectHandle h{*type, std::string(name)};
  if (auto valid = storage::ValidateHandle(h); !valid) return Status(404, "Not Found");
  return ObjectRequest(**store, *props, h, req);
}

Result<void> StorageRole::DeleteBucketData(const std::string& id) {
  if (!BucketRegistry::ValidId(id)) return Fail(ErrorCode::kInvalidArgument, "bad bucket ID");
  if (storage_.open_remote) {
    // Object by object; the config last, so that an interrupted delete is still seen as a
    // (damaged) vault and can be deleted again.
    HALLEY_ASSIGN_OR_RETURN(auto store, OpenBucket(id));
    for (ObjectType type : storage::kAllObjectTypes) {
      if (type == ObjectType::kConfig) continue;
      std::vector<std::string> names;
      HALLEY_RETURN_IF_ERROR(store->List(type, [&](const storage::ObjectInfo& o) -> Result<void> {
        names.push_back(o.name);
        return {};
      }));
      for (const std::string& name : names) HALLEY_RETURN_IF_ERROR(store->Remove({type, name}));
    }
    HALLEY_RETURN_IF_ERROR(store->Remove(ObjectHandle::Config()));
  }
  {
    std::lock_guard lock(mu_);
    open_.erase(id);
    used_.erase(id);
  }
  for (const std::string& volume : storage_.volumes) {
    std::error_code ec;
    std::filesystem::remove_all(volume + "/" + id, ec);
    if (ec) return Fail(ErrnoError("removing " + volume + "/" + id, ec.value()));
  }
  return {};
}

Result<size_t> StorageRole::RemoveStaleTemporaries() {
  HALLEY_ASSIGN_OR_RETURN(std::vector<BucketProperties> buckets, buckets_.List());
  size_t removed = 0;
  for (const BucketProperties& b : buckets) {
    HALLEY_ASSIGN_OR_RETURN(auto store, OpenBucket(b.id));
    HALLEY_ASSIGN_OR_RETURN(size_t n, store->RemoveStaleTemporaries(storage::kStaleTemporaryAge));
    removed += n;
  }
  return removed;
}

Result<uint64_t> StorageRole::MeasureBucket(const std::string& id) {
  HALLEY_ASSIGN_OR_RETURN(auto store, OpenBucket(id));
  HALLEY_ASSIGN_OR_RETURN(uint64_t total, Measure(*store));
  std::lock_guard lock(mu_);
  if (auto it = used_.find(id); it != used_.end()) it->second = total;  // resynchronised
  return total;
}

Result<uint64_t> StorageRole::Measure(storage::BlobStore& store) {
  uint64_t total = 0;
  for (ObjectType type : storage::kAllObjectTypes) {
    if (type == ObjectType::kConfig) {
      if (auto size = store.Stat(ObjectHandle::Config())) total += *size;
      continue;
    }
    HALLEY_RETURN_IF_ERROR(store.List(type, [&](const storage::ObjectInfo& info) -> Result<void> {
      total += info.size;
      return {};
    }));
  }
  return total;
}

Json StorageRole::FreeSpace() const {
  if (storage_.open_remote) return {{"Unlimited", true}, {"UsedPercent", 0}, {"AvailableBytes", 0}};
  Json targets = Json::array();
  uint64_t total_avail = 0, total_size = 0;
  for (const std::string& volume : storage_.volumes) {
    struct statvfs st {};
    uint64_t avail = 0, size = 0;
    if (::statvfs(volume.c_str(), &st) == 0) {
      avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
      size = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
    }
    total_avail += avail;
    total_size += size;
    const double used =
        size ? 100.0 * static_cast<double>(size - avail) / static_cast<double>(size) : 0.0;
    targets.push_back({{"Unlimited", false}, {"UsedPercent", used}, {"AvailableBytes", avail}});
  }
  const double used = total_size ? 100.0 * static_cast<double>(total_size - total_avail) /
                                       static_cast<double>(total_size)
                                 : 0.0;
  Json out = {{"Unlimited", false}, {"UsedPercent", used}, {"AvailableBytes", total_avail}};
  if (storage_.volumes.size() > 1) out["Spanned"] = {{"Targets", targets}};
  return out;
}

}  // namespace halley::server
