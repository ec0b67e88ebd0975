// SPDX-License-Identifier: Apache-2.0
//
// The Storage Role's data path: restic's REST protocol v2 (reference/restic.md §3) under
// /storage/<bucket>/, so that backup-tool and restic itself can use a bucket as a vault.
// Requests authenticate with HTTP Basic (user = bucket ID, password = bucket key). Uploads
// stream to disk with no size limit, are checked against their name (SHA-256), never replace
// an existing object (403; but a retried upload of exactly the stored content is acknowledged
// with 200, so a reply lost in a crash does not fail the client), and are durable before the
// 200 (LocalBlobStore's commit). Bucket
// data lives in <volume>/<bucket ID>/ with the vault layout; with several volumes (spanning)
// new objects go to the volume with the most free space and reads search all of them, so
// files may be moved between volumes while the server runs. Or it lives in an S3-compatible
// bucket under <prefix>/<bucket ID>/, where any number of servers can serve it
// (docs/scaling.md). A bucket with a storage limit
// refuses uploads beyond it with 507: its usage is measured once, then kept current by the
// uploads and deletes served (concurrent uploads may overshoot by one object each; files changed
// behind the server's back are counted again by bucket-properties). Wire details: docs/server.md.
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "httpd/http.h"
#include "server/buckets.h"
#include "storage/blob_store.h"

namespace halley::server {

// Where the Storage Role keeps bucket data: local volumes, or an object store.
struct BucketStorage {
  std::vector<std::string> volumes;  // directories: one, or several spanned
  // Set instead of volumes: opens the store of bucket `id` (an S3 prefix per bucket).
  std::function<Result<storage::BlobStorePtr>(const std::string& id)> open_remote;
};

class StorageRole {
 public:
  // `verify_uploads` false skips the SHA-256 check of uploads (as rest-server's
  // --no-verify-upload, for servers short of CPU); clients still verify what they read.
  StorageRole(BucketRegistry& buckets, BucketStorage storage, bool verify_uploads)
      : buckets_(buckets), storage_(std::move(storage)), verify_uploads_(verify_uploads) {}

  // Serves a request whose path starts with "/storage/".
  httpd::Response Handle(httpd::Request& req);

  // Removes every object of the bucket on every volume (admin delete-bucket).
  Result<void> DeleteBucketData(const std::string& id);
  // Total bytes the bucket's objects take (also resynchronises the usage kept for its limit).
  Result<uint64_t> MeasureBucket(const std::string& id);
  // Removes from every bucket the temporary files of uploads that never finished and are
  // older than storage::kStaleTemporaryAge; returns how many.
  Result<size_t> RemoveStaleTemporaries();
  // StorageFreeSpaceInfo (comet.md §1.4): {Unlimited, UsedPercent, AvailableBytes, Spanned};
  // an object store is Unlimited.
  Json FreeSpace() const;

  // The bucket's store (a LocalBlobStore, a SpannedBlobStore over every volume, or the object
  // store's), kept for
  // later requests: a spanned store's rotation and commit locks must be shared by all of them.
  Result<std::shared_ptr<storage::BlobStore>> OpenBucket(const std::string& id);

 private:
  httpd::Response ObjectRequest(storage::BlobStore& store, const BucketProperties& bucket,
                                const storage::ObjectHandle& h, httpd::Request& req);
  static Result<uint64_t> Measure(storage::BlobStore& store);
  // The bytes bucket `id` holds, measured on first use.
  Result<uint64_t> Used(const std::string& id, storage::BlobStore& store);
  void AddUsed(const std::string& id, int64_t delta);

  BucketRegistry& buckets_;
  const BucketStorage storage_;
  const bool verify_uploads_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<storage::BlobStore>> open_;  // guarded by mu_
  std::map<std::string, uint64_t> used_;  // limited buckets' usage; guarded by mu_
};

}  // namespace halley::server
