// SPDX-License-Identifier: Apache-2.0
//
// A vault in an S3-compatible bucket (AWS, Ceph RGW, MinIO, Wasabi, ...), under an optional
// key prefix, in the same layout as every other store (config, data/xx/<id>, keys/<id>, ...),
// so that a vault moves between a disk and a bucket by copying files, and restic reads it.
// Requests are signed with AWS Signature V4 (httpclient/aws_sigv4.h):
//
//   Create   HEAD config; HEAD bucket, PUT bucket if it is missing (with Object Lock if asked
//            for), then GET ?object-lock to check that a locked vault's bucket has it
//   Put      HEAD (no overwrite), then PUT with If-None-Match: *, Content-MD5 and the body's
//            SHA-256 (the server checks both); objects over multipart_threshold go up in
//            parts (CreateMultipartUpload, UploadPart..., CompleteMultipartUpload), and an
//            upload that fails is aborted so that no part is left stored (and so are the
//            uploads of the same key an earlier attempt lost track of). With Object Lock,
//            every object but locks is stored with a retention date (headers, and PUT
//            ?retention after a multipart upload)
//   Get      GET with Range (206); ReadAt straight into the caller's buffer
//   Stat     HEAD
//   List     ListObjectsV2 with prefix "<prefix>/<type>/", page by page
//   Remove   DELETE (a missing object is success); in a versioned (locked) bucket this adds
//            a delete marker and the stored version stays until its retention ends
//
// An existing object under the name of a Put is success only when it holds exactly the bytes
// given (its ETag is their MD5, or the multipart ETag of the same parts): a retried upload
// whose first answer was lost. Otherwise kAlreadyExists.
//
// Errors: S3's error codes map to our kinds (NoSuchKey and NoSuchBucket kNotFound;
// AccessDenied kPermissionDenied; InvalidAccessKeyId and SignatureDoesNotMatch
// kUnauthenticated; quota kNoSpace; 5xx, SlowDown, RequestTimeout and a body damaged on the
// way (BadDigest, XAmzContentSHA256Mismatch) kUnavailable), with messages that say what to do
// for a wrong region or a skewed clock. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "httpclient/aws_sigv4.h"
#include "httpclient/http_client.h"
#include "storage/http_blob_store.h"

namespace halley::storage {

// S3 Object Lock retention (docs/storage.md §6 "Object Lock"). A version of an object kept
// in governance mode cannot be deleted or overwritten before its date except by credentials
// allowed s3:BypassGovernanceRetention; in compliance mode by nobody, the account's root
// included.
enum class S3ObjectLock { kOff, kGovernance, kCompliance };

struct S3Options {
  httpclient::AwsCredentials credentials = {};  // empty: unsigned (public) requests
  // The region requests are signed for. Empty: AWS_DEFAULT_REGION's job is the caller's; the
  // store then takes it from an AWS host name (s3.<region>.amazonaws.com) or "us-east-1".
  std::string region = {};
  // "auto": virtual-hosted (bucket.host) for AWS hosts and DNS-safe bucket names, path-style
  // (host/bucket) otherwise; "dns" or "path" force one.
  std::string bucket_lookup = "auto";
  size_t multipart_threshold = size_t{64} << 20;  // objects larger than this go in parts
  size_t part_size = size_t{16} << 20;            // at least 5 MiB (S3's minimum part)
  int list_page_size = 1000;                      // keys per ListObjectsV2 page (1-1000)
  // Unless kOff: every object but locks (which must stay removable) is stored in this mode
  // until object_lock_days (1 to 36500) after its upload, and Create() makes a missing bucket
  // with Object Lock (S3 turns it on as a bucket is made) and refuses an existing one without.
  S3ObjectLock object_lock = S3ObjectLock::kOff;
  int object_lock_days = 0;
  httpclient::ClientOptions http = {};
};

class S3BlobStore final : public HttpBlobStore {
 public:
  // `location` is what follows "s3:" in a vault location: "http[s]://host[:port]/bucket[/prefix]"
  // or "host[:port]/bucket[/prefix]" (https). kInvalidArgument for a malformed location, a
  // bad bucket name or bad options. Does not contact the server.
  static Result<std::unique_ptr<S3BlobStore>> Open(std::string_view location, S3Options options);

  // "s3:http://host:port/bucket/prefix".
  std::string Location() const override;
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  // Aborts the unfinished multipart uploads under the vault's prefix that are older than
  // `min_age` (a process killed mid-upload, a server gone before the abort).
  Result<size_t> RemoveStaleTemporaries(std::chrono::seconds min_age) override;

 private:
  struct OpenUpload {
    std::string key, id;
    int64_t initiated = 0;  // Unix seconds
  };
  struct Head {
    uint64_t size = 0;
    std::string etag;  // without quotes
  };
  // An Object Lock retention: "GOVERNANCE" or "COMPLIANCE", and the date in ISO 8601 UTC.
  struct Retention {
    std::string mode, until;
  };

  explicit S3BlobStore(S3Options options);

  httpclient::Request NewObjectRequest(std::string method, const ObjectHandle& h) const override;
  // Signs (unless the credentials are empty) and sends.
  Result<httpclient::Response> Send(httpclient::Request& req) override;
  Error StatusError(const httpclient::Response& r, std::string_view what) const override;
  Result<void> ListObjects(ObjectType type, const ListCallback& fn) override;

  // The bucket's URL, ending in '/': "https://bucket.host/" or "http://host/bucket/".
  std::string BucketUrl() const;
  std::string Key(const ObjectHandle& h) const;  // prefix + layout path
  std::string KeyUrl(std::string_view key, std::string_view query = "") const;

  // HEAD of an object: its size and ETag, or nullopt if it does not exist.
  Result<std::optional<Head>> HeadObject(const ObjectHandle& h);
  // True if the object `existing` holds exactly `data`.
  Result<bool> SameContent(const ObjectHandle& h, const Head& existing, ByteView data);
  // The ETag S3 gives `data` uploaded by this store (MD5, or MD5 of the parts' MD5s "-N").
  std::string ExpectedEtag(ByteView data) const;
  // The retention a Put of `h` asks for from now on; nullopt without Object Lock, and for locks.
  std::optional<Retention> RetentionFor(const ObjectHandle& h) const;
  // Adds the headers that store an upload of `keep` with its retention.
  static void AddRetention(httpclient::Request& req, const std::optional<Retention>& keep);
  // Makes sure the stored `h` is kept at least until keep.until (a longer retention stays:
  // S3 refuses to shorten one).
  Result<void> KeepUntil(const ObjectHandle& h, const Retention& keep);
  // For a locked vault: kInvalidArgument unless the bucket has Object Lock enabled.
  Result<void> CheckObjectLock();
  // What to do about a bucket without Object Lock, for the errors that find one.
  std::string NoObjectLockText() const;
  Result<void> PutSingle(const ObjectHandle& h, ByteView data,
                         const std::optional<Retention>& keep);
  // Aborts the upload if any step fails, so that no part stays stored (and billed).
  Result<void> PutMultipart(const ObjectHandle& h, ByteView data,
                            const std::optional<Retention>& keep);
  Result<void> UploadParts(const ObjectHandle& h, const std::string& upload_id, ByteView data);
  // The unfinished multipart uploads whose keys start with `key_prefix`.
  Result<std::vector<OpenUpload>> ListUploads(const std::string& key_prefix);
  // Aborts an upload, asking a busy server again a few times; a gone upload is success.
  Result<void> AbortUpload(const std::string& key, const std::string& upload_id);

  const S3Options options_;
  httpclient::Client client_;
  std::string scheme_;  // "http" or "https"
  std::string host_;    // host[:port] as given
  std::string bucket_;
  std::string prefix_;  // "" or "dir/sub/"
  std::string region_;
  bool virtual_host_ = false;
};

}  // namespace halley::storage
