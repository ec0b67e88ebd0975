// SPDX-License-Identifier: Apache-2.0
#include "storage/s3_blob_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "storage/http_blob_store.h"

namespace halley::storage {
namespace {

using httpclient::Request;
using httpclient::Response;

constexpr size_t kMinPartSize = size_t{5} << 20;  // S3's minimum for every part but the last
// A ListObjectsV2 page holds at most 1,000 keys: well under a megabyte of XML.
constexpr uint64_t kMaxListPageBytes = uint64_t{16} << 20;
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// S3's XML is flat and regular (no CDATA, no attributes on the elements read here): the text
// of an element is found by its tags, and decoded from the five predefined entities.
std::string XmlDecode(std::string_view s) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [entity, c] : kEntities) {
        if (s.substr(i, entity.size()) == entity) {
          out.push_back(c);
          i += entity.size() - 1;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(s[i]);
  }
  return out;
}

// The raw content of each <tag>...</tag> in `xml`, in order.
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  std::vector<std::string_view> out;
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const size_t start = pos + open.size();
    const size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start, end - start));
    pos = end + close.size();
  }
  return out;
}

// The decoded text of the first <tag> in `xml`, or "".
std::string XmlText(std::string_view xml, std::string_view tag) {
  auto elements = XmlElements(xml, tag);
  return elements.empty() ? std::string() : XmlDecode(elements.front());
}

bool IsDnsSafeBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return b.front() != '-' && b.back() != '-';
}

// "s3.eu-west-1.amazonaws.com", "s3-eu-west-1.amazonaws.com",
// "s3.dualstack.eu-west-1.amazonaws.com" -> "eu-west-1"; anything else -> "".
std::string RegionFromHost(std::string_view host) {
  host = host.substr(0, host.find(':'));
  constexpr std::string_view kSuffix = ".amazonaws.com";
  if (host.size() <= kSuffix.size() || !host.ends_with(kSuffix)) return "";
  std::string_view name = host.substr(0, host.size() - kSuffix.size());
  for (std::string_view p : {"s3.dualstack.", "s3.", "s3-"}) {
    if (name.starts_with(p)) {
      name.remove_prefix(p.size());
      return name.find('.') == std::string_view::npos && name != "external-1" ? std::string(name)
                                                                              : "";
    }
  }
  return "";
}

std::string Unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

std::string ContentMd5(ByteView data) { return Base64Encode(httpclient::Md5(data)); }

// Runs `op` up to four times while it fails with kUnavailable, 0.25, 0.5 and 1 s apart: for
// the steps within one multipart upload, which the store's caller cannot retry one by one.
template <class T>
Result<T> RetryBriefly(const std::function<Result<T>()>& op) {
  for (int attempt = 0;; ++attempt) {
    Result<T> r = op();
    if (r || r.error().Code() != ErrorCode::kUnavailable || attempt == 3) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
  }
}

// "2026-11-27T01:02:03.000Z" -> Unix seconds; 0 (the distant past) if it is not that form.
int64_t ParseIsoTime(const std::string& s) {
  struct tm tm {};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

// `t` as "2026-11-27T01:02:03Z", the form S3 takes for a retain-until date.
std::string IsoTime(std::chrono::system_clock::time_point t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

}  // namespace

S3BlobStore::S3BlobStore(S3Options options)
    : options_(std::move(options)), client_(options_.http) {}

std::string S3BlobStore::Location() const {
  return "s3:" + scheme_ + "://" + host_ + "/" + bucket_ +
         (prefix_.empty() ? "" : "/" + prefix_.substr(0, prefix_.size() - 1));
}

std::string S3BlobStore::BucketUrl() const {
  return virtual_host_ ? scheme_ + "://" + bucket_ + "." + host_ + "/"
                       : scheme_ + "://" + host_ + "/" + bucket_ + "/";
}

std::string S3BlobStore::Key(const ObjectHandle& h) const { return prefix_ + h.Path(); }

std::string S3BlobStore::KeyUrl(std::string_view key, std::string_view query) const {
  return BucketUrl() + httpclient::UriEncode(key, false) +
         (query.empty() ? "" : "?" + std::string(query));
}

Request S3BlobStore::NewObjectRequest(std::string method, const ObjectHandle& h) const {
  return Request{.method = std::move(method), .url = KeyUrl(Key(h))};
}

Result<Response> S3BlobStore::Send(Request& req) {
  if (!options_.credentials.Empty()) {
    const std::string sha = req.body.empty() ? kEmptySha256 : httpclient::Sha256Hex(req.body);
    HALLEY_RETURN_IF_ERROR(httpclient::SignAwsV4(req, options_.credentials, region_, "s3", sha,
                                                 std::chrono::system_clock::now()));
  }
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(req));
  // A refused HEAD has no body to say why (a bad key? a wrong region? no permission?): ask
  // the same with a one-byte GET, whose answer names the error.
  if (req.method == "HEAD" && r.body.empty() && (r.status == 400 || r.status == 403)) {
    Request get{.method = "GET", .url = req.url, .max_body = 1};
    get.headers.emplace_back("Range", "bytes=0-0");
    if (!options_.credentials.Empty()) {
      HALLEY_RETURN_IF_ERROR(httpclient::SignAwsV4(get, options_.credentials, region_, "s3",
                                                   kEmptySha256, std::chrono::system_clock::now()));
    }
    auto explained = client_.Do(get);
    if (explained && explained->status == r.status) r.body = std::move(explained->body);
  }
  return r;
}

Error S3BlobStore::StatusError(const Response& r, std::string_view what) const {
  const std::string_view body = AsString(r.body);
  const std::string code = XmlText(body, "Code");
  const std::string text = XmlText(body, "Message");
  std::string message = std::string(what) + ": " + Location() + " answered HTTP " +
                        std::to_string(r.status) + (code.empty() ? "" : " " + code) +
                        (text.empty() ? "" : " (" + text.substr(0, 200) + ")") +
                        (r.proxy.empty() ? "" : " through the proxy " + r.proxy);
  auto error = [&](ErrorCode c, std::string_view hint = "") {
    return Error(c, hint.empty() ? message : message + ": " + std::string(hint));
  };
  std::string bucket_region = XmlText(body, "Region");
  if (bucket_region.empty()) bucket_region = std::string(r.Header("x-amz-bucket-region"));
  if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" ||
      code == "IllegalLocationConstraintException" || r.status == 301) {
    return error(
        ErrorCode::kInvalidArgument,
        bucket_region.empty()
            ? "the bucket is in another region than " + region_ + " (set AWS_DEFAULT_REGION)"
            : "the bucket is in region " + bucket_region + ", not " + region_ +
                  " (set AWS_DEFAULT_REGION=" + bucket_region + ")");
  }
  if (code == "RequestTimeTooSkewed") {
    return error(ErrorCode::kInvalidArgument,
                 "this computer's clock is more than 15 minutes away from the server's; set "
                 "the clock right (NTP) and try again");
  }
  if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" ||
      code == "ExpiredToken" || r.status == 401) {
    return error(ErrorCode::kUnauthenticated,
                 "the server refused the credentials (AWS_ACCESS_KEY_ID, "
                 "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)");
  }
  if (code == "NoSuchBucket") {
    return error(ErrorCode::kNotFound, "the bucket \"" + bucket_ + "\" does not exist");
  }
  if (code == "QuotaExceeded" || r.status == 507) return error(ErrorCode::kNoSpace);
  // What S3 answers a retention in a bucket without Object Lock (AWS: "Bucket is missing
  // Object Lock Configuration"; Ceph: no text, or "... object lock not configured").
  if (code == "InvalidRequest" && options_.object_lock != S3ObjectLock::kOff &&
      (text.empty() || text.find("lock") != std::string::npos ||
       text.find("Lock") != std::string::npos)) {
    return error(ErrorCode::kInvalidArgument, NoObjectLockText());
  }
  // A body damaged on the way, a stalled upload, throttling and server trouble: a retry may
  // succeed.
  if (code == "BadDigest" || code == "XAmzContentSHA256Mismatch" || code == "IncompleteBody" ||
      code == "RequestTimeout" || code == "SlowDown" || code == "OperationAborted" ||
      code == "ConditionalRequestConflict" || code == "InternalError" || r.status == 408 ||
      r.status == 429 || r.status >= 500) {
    return error(ErrorCode::kUnavailable).WithRetryAfter(HttpRetryAfter(r));
  }
  switch (r.status) {
    case 400:
      return error(ErrorCode::kInvalidArgument);
    case 403:
      return error(ErrorCode::kPermissionDenied);
    case 404:
      return error(ErrorCode::kNotFound);
    case 416:
      return error(ErrorCode::kCorruption);
    default:
      return error(ErrorCode::kIoError);
  }
}

Result<void> S3BlobStore::Create() {
  auto config = Stat(ObjectHandle::Config());
  if (config) return Fail(ErrorCode::kAlreadyExists, "a config already exists at " + Location());
  if (config.error().Code() != ErrorCode::kNotFound) return Fail(config.error());
  Request head{.method = "HEAD", .url = BucketUrl()};
  HALLEY_ASSIGN_OR_RETURN(Response exists, Send(head));
  // 403: credentials limited to a prefix_ may not look at the bucket_ itself; the first write
  // will tell whether they may write there.
  if (IsHttpSuccess(exists) || exists.status == 403) return CheckObjectLock();
  if (exists.status != 404) return Fail(StatusError(exists, "looking up the bucket"));
  Request make{.method = "PUT", .url = BucketUrl()};
  if (options_.object_lock != S3ObjectLock::kOff) {
    // Turns on versioning too: a DELETE then adds a delete marker and keeps the version.
    make.headers.emplace_back("x-amz-bucket-object-lock-enabled", "true");
  }
  std::string body;
  if (region_ != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        region_ + "</LocationConstraint></CreateBucketConfiguration>";
    make.body = AsBytes(body);
  }
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(make));
  // A server may also ignore the header (or the bucket was made meanwhile without it): the
  // check below is what proves it.
  if (IsHttpSuccess(r) || XmlText(AsString(r.body), "Code") == "BucketAlreadyOwnedByYou") {
    return CheckObjectLock();
  }
  return Fail(StatusError(r, "creating the bucket \"" + bucket_ + "\""));
}

std::string S3BlobStore::NoObjectLockText() const {
  return "the bucket \"" + bucket_ +
         "\" does not have S3 Object Lock enabled, which a vault with retention needs; S3 "
         "turns it on as a bucket is made (AWS also for an existing versioned bucket): use a "
         "new bucket, or no Object Lock";
}

Result<void> S3BlobStore::CheckObjectLock() {
  if (options_.object_lock == S3ObjectLock::kOff) return {};
  Request req{.method = "GET", .url = BucketUrl() + "?object-lock"};
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (IsHttpSuccess(r)) {
    if (XmlText(AsString(r.body), "ObjectLockEnabled") == "Enabled") return {};
    return Fail(ErrorCode::kInvalidArgument, Location() + ": " + NoObjectLockText());
  }
  const std::string code = XmlText(AsString(r.body), "Code");
  // 501 and 405: a server without Object Lock (s3rver).
  if (code == "ObjectLockConfigurationNotFoundError" || r.status == 501 || r.status == 405) {
    return Fail(ErrorCode::kInvalidArgument, Location() + ": " + NoObjectLockText());
  }
  Error error = StatusError(r, "looking up the Object Lock configuration of the bucket");
  // Credentials limited to a prefix_ may not read the bucket's settings: the first Put will
  // tell (S3 refuses a retention in a bucket without Object Lock).
  if (error.Code() == ErrorCode::kPermissionDenied) return {};
  return Fail(std::move(error));
}

Result<std::optional<S3BlobStore::Head>> S3BlobStore::HeadObject(const ObjectHandle& h) {
  Request req = NewObjectRequest("HEAD", h);
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (r.status == 404) return std::optional<Head>();
  if (!IsHttpSuccess(r)) return Fail(StatusError(r, "looking up " + h.Path()));
  auto size = ParseContentLength(r.Header("content-length"));
  if (!size) {
    return Fail(ErrorCode::kIoError,
                "looking up " + h.Path() + ": " + Location() + " sent no valid Content-Length");
  }
  return std::optional<Head>(Head{*size, Unquote(r.Header("etag"))});
}

std::string S3BlobStore::ExpectedEtag(ByteView data) const {
  if (data.size() <= options_.multipart_threshold) return HexEncode(httpclient::Md5(data));
  Bytes digests;
  size_t parts = 0;
  for (size_t off = 0; off < data.size(); off += options_.part_size, ++parts) {
    Append(digests,
           httpclient::Md5(data.subspan(off, std::min(options_.part_size, data.size() - off))));
  }
  return HexEncode(httpclient::Md5(digests)) + "-" + std::to_string(parts);
}

Result<bool> S3BlobStore::SameContent(const ObjectHandle& h, const Head& existing, ByteView data) {
  if (existing.size != data.size()) return false;
  if (existing.etag == ExpectedEtag(data)) return true;
  // Encrypted buckets (SSE-KMS) and other part sizes give other ETags: compare the bytes.
  HALLEY_ASSIGN_OR_RETURN(Bytes stored, Get(h));
  return std::equal(stored.begin(), stored.end(), data.begin(), data.end());
}

Result<void> S3BlobStore::Put(const ObjectHandle& h, ByteView data) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  // Never overwritten. But an upload stored while its answer was lost is retried and finds
  // itself: an object named by the SHA-256 of exactly these bytes is acknowledged (as halleyd
  // does). The config is named otherwise, and two writers of it must not both win.
  const std::optional<Retention> keep = RetentionFor(h);
  auto exists = [&]() -> Result<void> {
    const auto already = Fail(ErrorCode::kAlreadyExists, h.Path() + " already exists");
    if (h.type == ObjectType::kConfig || httpclient::Sha256Hex(data) != h.name) return already;
    HALLEY_ASSIGN_OR_RETURN(std::optional<Head> head, HeadObject(h));
    if (!head) return Fail(ErrorCode::kUnavailable, "uploading " + h.Path() + ": conflict");
    HALLEY_ASSIGN_OR_RETURN(bool same, SameContent(h, *head, data));
    if (!same) return already;
    // The earlier attempt may have stopped between a multipart upload and its retention.
    return keep ? KeepUntil(h, *keep) : Result<void>();
  };
  // Not every S3 server honours If-None-Match (s3rver does not): look first.
  HALLEY_ASSIGN_OR_RETURN(std::optional<Head> head, HeadObject(h));
  if (head) return exists();
  auto put = data.size() > options_.multipart_threshold ? PutMultipart(h, data, keep)
                                                        : PutSingle(h, data, keep);
  if (!put && put.error().Code() == ErrorCode::kAlreadyExists) return exists();
  if (!put && put.error().Code() == ErrorCode::kNotFound) {
    // NoSuchUpload: a concurrent writer of the same object finished first and cleared the
    // uploads of its key, ours among them.
    HALLEY_ASSIGN_OR_RETURN(std::optional<Head> now, HeadObject(h));
    if (now) return exists();
    return Fail(Error(ErrorCode::kUnavailable, put.error().Message()));
  }
  return put;
}

std::optional<S3BlobStore::Retention> S3BlobStore::RetentionFor(const ObjectHandle& h) const {
  // A lock is rewritten every few minutes while a command runs and removed at its end: kept,
  // each of its versions would stay stored (and billed) for days, and protect nothing.
  if (options_.object_lock == S3ObjectLock::kOff || h.type == ObjectType::kLock) {
    return std::nullopt;
  }
  return Retention{
      options_.object_lock == S3ObjectLock::kCompliance ? "COMPLIANCE" : "GOVERNANCE",
      IsoTime(std::chrono::system_clock::now() + std::chrono::days(options_.object_lock_days))};
}

void S3BlobStore::AddRetention(Request& req, const std::optional<Retention>& keep) {
  if (!keep) return;
  // S3 wants the body's Content-MD5 with these (AWS refuses them without), which every upload
  // of this store sends.
  req.headers.emplace_back("x-amz-object-lock-mode", keep->mode);
  req.headers.emplace_back("x-amz-object-lock-retain-until-date", keep->until);
}

Result<void> S3BlobStore::KeepUntil(const ObjectHandle& h, const Retention& keep) {
  const std::string key = Key(h);
  Request get{.method = "GET", .url = KeyUrl(key, "retention")};
  HALLEY_ASSIGN_OR_RETURN(Response held, Send(get));
  // 404 (ObjectLockConfigurationNotFoundError) is no retention yet; 403, not allowed to look.
  if (IsHttpSuccess(held) &&
      ParseIsoTime(XmlText(AsString(held.body), "RetainUntilDate")) >= ParseIsoTime(keep.until)) {
    return {};
  }
  const std::string body = "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>" +
                           keep.mode + "</Mode><RetainUntilDate>" + keep.until +
                           "</RetainUntilDate></Retention>";
  Request put{.method = "PUT", .url = KeyUrl(key, "retention")};
  put.headers.emplace_back("Content-Type", "application/xml");
  put.headers.emplace_back("Content-MD5", ContentMd5(AsBytes(body)));
  put.body = AsBytes(body);
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(put));
  if (IsHttpSuccess(r)) return {};
  return Fail(StatusError(r, "setting the retention of " + h.Path()));
}

Result<void> S3BlobStore::PutSingle(const ObjectHandle& h, ByteView data,
                                    const std::optional<Retention>& keep) {
  Request req = NewObjectRequest("PUT", h);
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  req.headers.emplace_back("Content-MD5", ContentMd5(data));
  req.headers.emplace_back("If-None-Match", "*");
  AddRetention(req, keep);
  req.body = data;
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (IsHttpSuccess(r)) return {};
  if (r.status == 412) return Fail(ErrorCode::kAlreadyExists, h.Path() + " already exists");
  return Fail(StatusError(r, "uploading " + h.Path()));
}

Result<void> S3BlobStore::PutMultipart(const ObjectHandle& h, ByteView data,
                                       const std::optional<Retention>& keep) {
  const std::string key = Key(h);
  Request start{.method = "POST", .url = KeyUrl(key, "uploads")};
  start.headers.emplace_back("Content-Type", "application/octet-stream");
  AddRetention(start, keep);
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(start));
  if (!IsHttpSuccess(r)) return Fail(StatusError(r, "starting the upload of " + h.Path()));
  const std::string upload_id = XmlText(AsString(r.body), "UploadId");
  if (upload_id.empty()) {
    // A reply cut short on the way: the upload may exist, and is cleared below next time.
    return Fail(ErrorCode::kUnavailable,
                "starting the upload of " + h.Path() + ": " + Location() + " sent no UploadId");
  }
  auto done = UploadParts(h, upload_id, data);
  // Parts of an upload never completed stay stored (and billed) until it is aborted: ours if
  // it failed, and any other upload of this key, which an earlier attempt started but never
  // learned the ID of (its reply was lost). The key is the SHA-256 of the content, so such
  // uploads can only be of these same bytes.
  if (!done) (void)AbortUpload(key, upload_id);
  if (auto open = ListUploads(key)) {
    for (const OpenUpload& u : *open) {
      if (u.key == key && u.id != upload_id) (void)AbortUpload(u.key, u.id);
    }
  }
  // AWS keeps the retention the upload was started with; Ceph 16 forgets it.
  if (done && keep) return KeepUntil(h, *keep);
  return done;
}

Result<std::vector<S3BlobStore::OpenUpload>> S3BlobStore::ListUploads(
    const std::string& key_prefix) {
  std::vector<OpenUpload> out;
  std::string markers;
  while (true) {
    Request req{.method = "GET",
                .url = BucketUrl() + "?prefix=" + httpclient::UriEncode(key_prefix, true) +
                       "&uploads" + markers};
    req.max_body = kMaxListPageBytes;
    HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
    if (!IsHttpSuccess(r)) return Fail(StatusError(r, "listing unfinished uploads"));
    const std::string_view xml = AsString(r.body);
    for (std::string_view u : XmlElements(xml, "Upload")) {
      out.push_back(
          {XmlText(u, "Key"), XmlText(u, "UploadId"), ParseIsoTime(XmlText(u, "Initiated"))});
    }
    if (XmlText(xml, "IsTruncated") != "true") return out;
    const std::string key = XmlText(xml, "NextKeyMarker");
    const std::string id = XmlText(xml, "NextUploadIdMarker");
    const std::string next = "&key-marker=" + httpclient::UriEncode(key, true) +
                             "&upload-id-marker=" + httpclient::UriEncode(id, true);
    if (key.empty() || next == markers) return out;
    markers = next;
  }
}

Result<void> S3BlobStore::AbortUpload(const std::string& key, const std::string& upload_id) {
  // A failed abort leaves the parts stored: a busy server is asked again.
  return RetryBriefly<void>([&]() -> Result<void> {
    Request req{.method = "DELETE",
                .url = KeyUrl(key, "uploadId=" + httpclient::UriEncode(upload_id, true))};
    HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
    if (IsHttpSuccess(r) || r.status == 404) return {};
    return Fail(StatusError(r, "aborting an upload of " + key));
  });
}

Result<size_t> S3BlobStore::RemoveStaleTemporaries(std::chrono::seconds min_age) {
  HALLEY_ASSIGN_OR_RETURN(std::vector<OpenUpload> open, ListUploads(prefix_));
  const int64_t cutoff = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() -
                         min_age.count();
  size_t removed = 0;
  for (const OpenUpload& u : open) {
    // Uploads of this vault's objects only (a prefix "v" must not take "v2/...").
    if (u.key.rfind(prefix_, 0) != 0 || u.initiated > cutoff) continue;
    HALLEY_RETURN_IF_ERROR(AbortUpload(u.key, u.id));
    ++removed;
  }
  return removed;
}

Result<void> S3BlobStore::UploadParts(const ObjectHandle& h, const std::string& upload_id,
                                      ByteView data) {
  const std::string key = Key(h);
  const std::string id_query = "uploadId=" + httpclient::UriEncode(upload_id, true);
  std::string complete = "<CompleteMultipartUpload>";
  int number = 1;
  for (size_t off = 0; off < data.size(); off += options_.part_size, ++number) {
    const ByteView part = data.subspan(off, std::min(options_.part_size, data.size() - off));
    const std::string part_name = "uploading part " + std::to_string(number) + " of " + h.Path();
    // A failed part is sent again by itself: the whole upload would start over otherwise.
    HALLEY_ASSIGN_OR_RETURN(
        std::string etag, RetryBriefly<std::string>([&]() -> Result<std::string> {
          Request req{.method = "PUT",
                      .url = KeyUrl(key, "partNumber=" + std::to_string(number) + "&" + id_query)};
          req.headers.emplace_back("Content-MD5", ContentMd5(part));
          req.body = part;
          HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
          if (!IsHttpSuccess(r)) return Fail(StatusError(r, part_name));
          if (r.Header("etag").empty()) {
            return Fail(ErrorCode::kUnavailable, part_name + ": " + Location() + " sent no ETag");
          }
          return std::string(r.Header("etag"));
        }));
    complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + etag +
                "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  Request req{.method = "POST", .url = KeyUrl(key, id_query)};
  req.headers.emplace_back("Content-Type", "application/xml");
  req.headers.emplace_back("If-None-Match", "*");
  req.body = AsBytes(complete);
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (r.status == 412) return Fail(ErrorCode::kAlreadyExists, h.Path() + " already exists");
  // S3 may answer 200 and report a failure in the body (the answer starts before the parts
  // are assembled).
  if (!IsHttpSuccess(r) || AsString(r.body).find("<Error>") != std::string_view::npos) {
    if (IsHttpSuccess(r)) r.status = 500;
    return Fail(StatusError(r, "completing the upload of " + h.Path()));
  }
  return {};
}

Result<void> S3BlobStore::ListObjects(ObjectType type, const ListCallback& fn) {
  const std::string dir = prefix_ + std::string(ObjectTypeDir(type)) + "/";
  std::string token;
  while (true) {
    std::string query = "list-type=2&max-keys=" + std::to_string(options_.list_page_size) +
                        "&prefix=" + httpclient::UriEncode(dir, true);
    if (!token.empty()) query += "&continuation-token=" + httpclient::UriEncode(token, true);
    Request req{.method = "GET", .url = BucketUrl() + "?" + query};
    req.max_body = kMaxListPageBytes;
    HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
    if (!IsHttpSuccess(r)) return Fail(StatusError(r, "listing " + dir));
    const std::string_view xml = AsString(r.body);
    for (std::string_view entry : XmlElements(xml, "Contents")) {
      const std::string key = XmlText(entry, "Key");
      const std::string size = XmlText(entry, "Size");
      if (!key.starts_with(dir)) continue;
      // data/ is sharded (data/3f/3fa2...); every other type is flat.
      const std::string_view rest = std::string_view(key).substr(dir.size());
      const ObjectHandle h{type, std::string(rest.substr(rest.rfind('/') + 1))};
      // Anything else under the prefix_ (a stray file) is not an object of the vault.
      if (!ValidateHandle(h) || Key(h) != key) continue;
      auto bytes = ParseContentLength(size);
      if (!bytes) {
        return Fail(ErrorCode::kCorruption,
                    "listing " + dir + ": " + Location() + " sent a bad size for " + key);
      }
      HALLEY_RETURN_IF_ERROR(fn({h.name, *bytes}));
    }
    if (XmlText(xml, "IsTruncated") != "true") return {};
    std::string next = XmlText(xml, "NextContinuationToken");
    if (next.empty() || next == token) {
      return Fail(ErrorCode::kIoError,
                  "listing " + dir + ": " + Location() + " sent a truncated page without a way on");
    }
    token = std::move(next);
  }
}

Result<std::unique_ptr<S3BlobStore>> S3BlobStore::Open(std::string_view location,
                                                       S3Options options) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid S3 vault location \"s3:" + httpclient::RedactUrl(location) +
                    "\": " + std::string(why));
  };
  std::unique_ptr<S3BlobStore> store(new S3BlobStore(std::move(options)));
  const S3Options& o = store->options_;
  std::string_view rest = location;
  store->scheme_ = "https";
  for (std::string_view s : {"http", "https"}) {
    if (rest.starts_with(std::string(s) + "://")) {
      store->scheme_ = s;
      rest.remove_prefix(s.size() + 3);
    }
  }
  if (rest.find("://") != std::string_view::npos) return bad("want http:// or https://");
  if (rest.find_first_of("?#@") != std::string_view::npos) {
    return bad(
        "a query, fragment or credentials are not allowed (credentials come from "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  const size_t slash = rest.find('/');
  store->host_ = std::string(rest.substr(0, slash));
  if (store->host_.empty()) return bad("no host");
  if (slash == std::string_view::npos) return bad("no bucket: want HOST/BUCKET[/PREFIX]");
  rest.remove_prefix(slash + 1);
  const size_t bucket_end = rest.find('/');
  store->bucket_ = std::string(rest.substr(0, bucket_end));
  const bool bucket_ok = !store->bucket_.empty() && store->bucket_.size() <= 255 &&
                         std::all_of(store->bucket_.begin(), store->bucket_.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
                         });
  if (!bucket_ok) return bad("invalid bucket name \"" + store->bucket_ + "\"");
  std::string_view prefix =
      bucket_end == std::string_view::npos ? std::string_view() : rest.substr(bucket_end + 1);
  while (prefix.starts_with('/')) prefix.remove_prefix(1);
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  for (std::string_view p = prefix; !p.empty();) {
    const std::string_view segment = p.substr(0, p.find('/'));
    if (segment.empty() || segment == "." || segment == "..") {
      return bad("the prefix may not have empty, \".\" or \"..\" parts");
    }
    p.remove_prefix(std::min(p.size(), segment.size() + 1));
  }
  if (!prefix.empty()) store->prefix_ = std::string(prefix) + "/";

  store->region_ = o.region;
  if (store->region_.empty()) store->region_ = RegionFromHost(store->host_);
  if (store->region_.empty()) store->region_ = "us-east-1";
  if (o.bucket_lookup == "dns") {
    store->virtual_host_ = true;
  } else if (o.bucket_lookup == "auto") {
    store->virtual_host_ = std::string_view(store->host_)
                               .substr(0, store->host_.find(':'))
                               .ends_with(".amazonaws.com") &&
                           IsDnsSafeBucket(store->bucket_);
  } else if (o.bucket_lookup != "path") {
    return bad("bucket lookup must be auto, dns or path, not \"" + o.bucket_lookup + "\"");
  }
  if (o.part_size < kMinPartSize) return bad("parts must be at least 5 MiB");
  if (o.list_page_size < 1 || o.list_page_size > 1000) return bad("list pages hold 1 to 1000 keys");
  if (o.multipart_threshold < o.part_size) return bad("the multipart threshold is below a part");
  if (o.object_lock != S3ObjectLock::kOff &&
      (o.object_lock_days < 1 || o.object_lock_days > 36500)) {
    return bad("an Object Lock retention is 1 to 36500 days");
  }
  return store;
}

}  // namespace halley::storage
