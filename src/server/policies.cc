// SPDX-License-Identifier: Apache-2.0
#include "server/policies.h"

#include <string>

namespace halley::server {
namespace {

const Json& Member(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

bool Flag(const Json& profile, std::string_view flag) {
  const Json& policy = Member(profile, "Policy");
  if (!policy.is_object()) return false;
  auto it = policy.find(flag);
  return it != policy.end() && it->is_boolean() && it->get<bool>();
}

Result<void> Refused(std::string_view flag, std::string_view action) {
  return Fail(ErrorCode::kPermissionDenied, "A policy prevents this account from " +
                                                std::string(action) + " (" + std::string(flag) +
                                                ")");
}

Error Wrong(const std::string& where, const char* what) {
  return Error(ErrorCode::kInvalidArgument, "PolicyData." + where + " must be " + what);
}

// The vault's name for messages: its Description, or its ID.
std::string VaultName(const std::string& id, const Json& vault) {
  const Json& d = Member(vault, "Description");
  return "'" +
         (d.is_string() && !d.get_ref<const std::string&>().empty() ? d.get<std::string>() : id) +
         "'";
}

}  // namespace

Result<void> ValidateGroupPolicy(const Json& policy) {
  if (!policy.is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "PolicyData must be a JSON object (a GroupPolicy)");
  }
  for (const char* k : {"Description", "OrganizationID"}) {
    if (policy.contains(k) && !policy[k].is_string()) return Fail(Wrong(k, "a string"));
  }
  for (const char* k : {"CreatedDate", "ModifiedDate"}) {
    if (policy.contains(k) && !policy[k].is_number_integer()) return Fail(Wrong(k, "an integer"));
  }
  if (policy.contains("DefaultUserPolicy") && !policy["DefaultUserPolicy"].is_boolean()) {
    return Fail(Wrong("DefaultUserPolicy", "a boolean"));
  }
  if (!policy.contains("Policy")) return {};
  const Json& user = policy["Policy"];
  if (!user.is_object()) return Fail(Wrong("Policy", "an object (a UserPolicy)"));
  for (const char* k : {kPreventRequestStorageVault, kPreventAddCustomStorageVault,
                        kPreventDeleteStorageVault, kPreventChangeAccountPassword}) {
    if (user.contains(k) && !user[k].is_boolean()) {
      return Fail(Wrong(std::string("Policy.") + k, "a boolean"));
    }
  }
  const Json& exclusions = Member(user, "FileAndFolderMandatoryExclusions");
  if (exclusions.is_null()) return {};
  const std::string where = "Policy.FileAndFolderMandatoryExclusions";
  if (!exclusions.is_array()) return Fail(Wrong(where, "an array"));
  for (const Json& e : exclusions) {
    if (!e.is_object()) return Fail(Wrong(where + "[]", "an object"));
    if (!Member(e, "Exclude").is_string()) return Fail(Wrong(where + "[].Exclude", "a string"));
    const Json& regex = Member(e, "Regex");
    if (!regex.is_null() && !regex.is_boolean()) {
      return Fail(Wrong(where + "[].Regex", "a boolean"));
    }
    // The product's value is an integer (OS_ANY 0, ..., OS_ONLY_LINUX 5); a name is
    // accepted too.
    const Json& os = Member(e, "RestrictOS");
    if (!os.is_null() && !os.is_number_integer() && !os.is_string()) {
      return Fail(Wrong(where + "[].RestrictOS", "an integer"));
    }
  }
  return {};
}

Result<void> CheckPolicyFlag(const Json& profile, std::string_view flag, std::string_view action) {
  if (Flag(profile, flag)) return Refused(flag, action);
  return {};
}

Result<void> CheckUserProfileWrite(const Json& stored, const Json& next) {
  const bool no_delete = Flag(stored, kPreventDeleteStorageVault);
  const bool no_custom = Flag(stored, kPreventAddCustomStorageVault);
  if (!no_delete && !no_custom) return {};
  static const Json kNone = Json::object();
  const Json& before_field = Member(stored, "Destinations");
  const Json& after_field = Member(next, "Destinations");
  const Json& before = before_field.is_object() ? before_field : kNone;
  const Json& after = after_field.is_object() ? after_field : kNone;
  if (no_custom) {
    for (const auto& [id, vault] : after.items()) {
      const Json& type = Member(vault, "DestinationType");
      const bool halley =
          type.is_number_integer() && type.get<int64_t>() == kDestinationHalleyBucket;
      const auto old = before.find(id);
      const bool added = old == before.end() || Member(*old, "DestinationType") != type;
      if (added && !halley) {
        return Refused(kPreventAddCustomStorageVault,
                       "adding Storage Vaults other than requested ones (type 1003): the write "
                       "adds " +
                           VaultName(id, vault) + " of type " + type.dump());
      }
    }
  }
  if (no_delete) {
    // Repointing a vault (another type, server or bucket) loses it as surely as removing it.
    for (const auto& [id, vault] : before.items()) {
      const auto now = after.find(id);
      if (now == after.end()) {
        return Refused(kPreventDeleteStorageVault,
                       "deleting Storage Vaults: the write removes " + VaultName(id, vault));
      }
      for (const char* where : {"DestinationType", "CometServer", "CometBucket"}) {
        if (Member(*now, where) != Member(vault, where)) {
          return Refused(kPreventDeleteStorageVault,
                         "deleting Storage Vaults: the write changes the " + std::string(where) +
                             " of " + VaultName(id, vault));
        }
      }
    }
  }
  return {};
}

}  // namespace halley::server
