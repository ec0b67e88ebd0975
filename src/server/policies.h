// SPDX-License-Identifier: Apache-2.0
//
// Policies (reference/comet.md §5.5). A GroupPolicy {Description, OrganizationID, Policy,
// DefaultUserPolicy, CreatedDate, ModifiedDate} is kept whole beside the users (UserStore), and
// a profile linked to it by PolicyID carries a read-only copy of its Policy (a UserPolicy).
// These functions check a GroupPolicy sent by an admin and enforce a UserPolicy's flags on what
// a user does through the user API. The admin API ignores the flags (comet.md §5.4 says so for
// PreventRequestStorageVault): a policy restricts the user, not the administrator.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "base/json.h"

namespace halley::server {

// The UserPolicy flags halleyd enforces, by the product's names.
inline constexpr char kPreventRequestStorageVault[] = "PreventRequestStorageVault";
inline constexpr char kPreventAddCustomStorageVault[] = "PreventAddCustomStorageVault";
inline constexpr char kPreventDeleteStorageVault[] = "PreventDeleteStorageVault";
inline constexpr char kPreventChangeAccountPassword[] = "PreventChangeAccountPassword";

// The one Storage Vault type a user may still add under PreventAddCustomStorageVault: a bucket
// on a Halley (the product's "Comet Server") Storage Role, as requested vaults are.
inline constexpr int64_t kDestinationHalleyBucket = 1003;

// kInvalidArgument naming the field unless `policy` is a JSON object whose known fields have
// their types: Description and OrganizationID strings, Policy an object, DefaultUserPolicy a
// boolean, CreatedDate and ModifiedDate integers; within Policy, the flags above booleans and
// FileAndFolderMandatoryExclusions an array of {Exclude: string, Regex: boolean, RestrictOS:
// integer or string}. Other fields are not looked at: they are kept as sent.
Result<void> ValidateGroupPolicy(const Json& policy);

// kPermissionDenied, with a message naming `flag`, if the profile's effective policy (its
// "Policy") has `flag` set. `action` completes "A policy prevents this account from ...".
Result<void> CheckPolicyFlag(const Json& profile, std::string_view flag, std::string_view action);

// Checks a user's own write of their profile, from `stored` to `next`, against the stored
// profile's policy. kPermissionDenied naming the flag if the write removes a Storage Vault
// (a Destinations ID of `stored` missing from `next`) under PreventDeleteStorageVault, or adds
// one of another type than 1003 (a new ID, or an existing vault whose DestinationType changes)
// under PreventAddCustomStorageVault.
Result<void> CheckUserProfileWrite(const Json& stored, const Json& next);

}  // namespace halley::server
