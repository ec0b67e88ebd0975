// SPDX-License-Identifier: Apache-2.0
#include "server/remote_storage.h"

#include "httpclient/server_api.h"
#include "server/config.h"

namespace halley::server {
namespace {

// A Storage Role that does not answer within these bounds fails the vault request; the
// device asks again later.
httpclient::ClientOptions RemoteOptions() {
  httpclient::ClientOptions o;
  o.connect_timeout = std::chrono::seconds(10);
  o.stall_timeout = std::chrono::seconds(30);
  o.user_agent = "halleyd";
  return o;
}

struct Remote {
  httpclient::ServerApi api;
  httpclient::Credentials admin;
};

Result<Remote> Connect(const Json& tmpl) {
  const std::string id = tmpl.value("ID", "");
  auto server = httpclient::NormalizeServerUrl(tmpl.value("RemoteAddress", ""));
  if (!server) {
    return Fail(ErrorCode::kInvalidArgument,
                "Storage Template '" + id + "': " + server.error().Message());
  }
  return Remote{httpclient::ServerApi(*server, RemoteOptions()),
                {tmpl.value("Username", ""), tmpl.value("Password", "")}};
}

// Errors of the remote server, said as the template's: the admin sees which template to fix.
// Only "try again later" (503) and "full" (507) keep their kind: the other server refusing
// the template's login must not read as the caller's own login being refused (401/403).
Error InTemplate(const Json& tmpl, const Error& e) {
  const ErrorCode code = e.Code() == ErrorCode::kUnavailable || e.Code() == ErrorCode::kNoSpace
                             ? e.Code()
                             : ErrorCode::kIoError;
  return Error(code, "Storage Template '" + tmpl.value("ID", "") + "': " + e.Message());
}

}  // namespace

bool IsRemoteTemplate(const Json& tmpl) {
  return tmpl.is_object() && !tmpl.value("RemoteAddress", "").empty();
}

Result<RemoteBucket> RegisterRemoteBucket(const Json& tmpl, const BucketRequest& request) {
  HALLEY_ASSIGN_OR_RETURN(Remote remote, Connect(tmpl));
  httpclient::Form form = {{"SetOrganizationID", request.organization}};
  if (!request.key_hash.empty()) {
    form.emplace_back("SetKeyHashFormat", std::to_string(request.key_format));
    form.emplace_back("SetKeyHashValue", request.key_hash);
  }
  if (request.limit_bytes > 0) {
    form.emplace_back("SetStorageLimitBytes", std::to_string(request.limit_bytes));
  }
  auto reply = remote.api.Call("admin/storage/register-bucket", form, remote.admin);
  if (!reply) return Fail(InTemplate(tmpl, reply.error()));
  RemoteBucket bucket{remote.api.Server(), StringField(*reply, "NewBucketID"),
                      StringField(*reply, "NewBucketKey")};
  if (bucket.id.empty() || (request.key_hash.empty() && bucket.key.empty())) {
    // A bucket registered without the key this server needs is of no use: undone.
    if (!bucket.id.empty()) (void)DeleteRemoteBucket(tmpl, bucket.id);
    return Fail(ErrorCode::kIoError, "Storage Template '" + tmpl.value("ID", "") +
                                         "': " + bucket.server +
                                         " answered register-bucket without a bucket and key");
  }
  return bucket;
}

Result<void> DeleteRemoteBucket(const Json& tmpl, const std::string& bucket_id) {
  HALLEY_ASSIGN_OR_RETURN(Remote remote, Connect(tmpl));
  auto reply =
      remote.api.Call("admin/storage/delete-bucket", {{"BucketID", bucket_id}}, remote.admin);
  if (!reply) return Fail(InTemplate(tmpl, reply.error()));
  return {};
}

Result<Json> TestRemoteTemplate(const Json& tmpl) {
  HALLEY_ASSIGN_OR_RETURN(Remote remote, Connect(tmpl));
  auto version = remote.api.Call("admin/meta/version", {}, remote.admin);
  if (!version) return Fail(InTemplate(tmpl, version.error()));
  if (!version->value("StorageRole", false)) {
    return Fail(ErrorCode::kIoError, "Storage Template '" + tmpl.value("ID", "") +
                                         "': the Storage Role of " + remote.api.Server() +
                                         " is disabled");
  }
  auto free = remote.api.Call("admin/storage/free-space", {}, remote.admin);
  if (!free) return Fail(InTemplate(tmpl, free.error()));
  return Json{{"Server", remote.api.Server()},
              {"Version", version->value("Version", "")},
              {"StorageRole", true},
              {"FreeSpace", *free}};
}

}  // namespace halley::server
