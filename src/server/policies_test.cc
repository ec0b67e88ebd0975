// SPDX-License-Identifier: Apache-2.0
#include "server/policies.h"

#include <gtest/gtest.h>

#include "base/test_util.h"

namespace halley::server {
namespace {

using testutil::FailsWith;

Json WithPolicy(Json policy, Json destinations = Json::object()) {
  return {{"Policy", std::move(policy)}, {"Destinations", std::move(destinations)}};
}

TEST(Policies, ValidatesTheKnownFieldsAndKeepsTheRest) {
  EXPECT_TRUE(ValidateGroupPolicy(Json::object()));
  EXPECT_TRUE(
      ValidateGroupPolicy({{"Description", "d"},
                           {"OrganizationID", ""},
                           {"DefaultUserPolicy", false},
                           {"CreatedDate", 1},
                           {"Unknown", {{"nested", Json::array({1, 2})}}},
                           {"Policy",
                            {{"PreventDeleteStorageVault", true},
                             {"SomeFutureFlag", "anything"},
                             {"FileAndFolderMandatoryExclusions",
                              Json::array({{{"Exclude", "*.tmp"}},
                                           {{"Exclude", "x"}, {"Regex", true}, {"RestrictOS", 5}},
                                           {{"Exclude", "y"}, {"RestrictOS", "linux"}}})}}}}));
  for (const Json& bad :
       {Json::array(), Json("policy"), Json{{"Description", 1}}, Json{{"OrganizationID", false}},
        Json{{"ModifiedDate", "today"}}, Json{{"DefaultUserPolicy", 1}},
        Json{{"Policy", Json::array()}},
        Json{{"Policy", {{"PreventChangeAccountPassword", "yes"}}}},
        Json{{"Policy", {{"FileAndFolderMandatoryExclusions", "*.tmp"}}}},
        Json{{"Policy", {{"FileAndFolderMandatoryExclusions", {1}}}}},
        Json{{"Policy", {{"FileAndFolderMandatoryExclusions", {{{"Regex", true}}}}}}},
        Json{
            {"Policy",
             {{"FileAndFolderMandatoryExclusions", {{{"Exclude", "x"}, {"RestrictOS", 1.5}}}}}}}}) {
    EXPECT_TRUE(FailsWith(ValidateGroupPolicy(bad), ErrorCode::kInvalidArgument)) << bad.dump();
  }
}

TEST(Policies, FlagsRefuseWithTheirName) {
  const Json free = WithPolicy(Json::object());
  EXPECT_TRUE(CheckPolicyFlag(free, kPreventChangeAccountPassword, "changing its password"));
  EXPECT_TRUE(CheckPolicyFlag(Json::object(), kPreventChangeAccountPassword, "x"));
  // A flag that is not a true boolean does not refuse.
  EXPECT_TRUE(CheckPolicyFlag(WithPolicy({{kPreventChangeAccountPassword, "true"}}),
                              kPreventChangeAccountPassword, "x"));
  auto refused = CheckPolicyFlag(WithPolicy({{kPreventChangeAccountPassword, true}}),
                                 kPreventChangeAccountPassword, "changing its password");
  ASSERT_TRUE(FailsWith(refused, ErrorCode::kPermissionDenied));
  EXPECT_EQ(refused.error().Message(),
            "A policy prevents this account from changing its password "
            "(PreventChangeAccountPassword)");
}

TEST(Policies, VaultWritesFollowTheFlags) {
  const Json halley = {{"Description", "requested"}, {"DestinationType", 1003}};
  const Json local = {{"Description", "usb disk"}, {"DestinationType", 1002}};
  const Json both = {{"a", halley}, {"b", local}};
  // No flags: anything goes.
  EXPECT_TRUE(CheckUserProfileWrite(WithPolicy(Json::object(), both), WithPolicy({}, {})));

  const Json no_delete = WithPolicy({{kPreventDeleteStorageVault, true}}, both);
  auto removed = CheckUserProfileWrite(no_delete, WithPolicy({}, {{"a", halley}}));
  ASSERT_TRUE(FailsWith(removed, ErrorCode::kPermissionDenied));
  EXPECT_NE(removed.error().Message().find("PreventDeleteStorageVault"), std::string::npos);
  EXPECT_NE(removed.error().Message().find("'usb disk'"), std::string::npos);
  // A profile without Destinations removes them all.
  EXPECT_FALSE(CheckUserProfileWrite(no_delete, Json::object()));
  // Editing and adding are not deleting.
  Json edited = both;
  edited["a"]["EncryptedEncryptionKey"] = "wrapped";
  edited["c"] = local;
  EXPECT_TRUE(CheckUserProfileWrite(no_delete, WithPolicy({}, edited)));

  const Json no_custom = WithPolicy({{kPreventAddCustomStorageVault, true}}, {{"a", halley}});
  EXPECT_TRUE(CheckUserProfileWrite(no_custom, WithPolicy({}, {{"a", halley}, {"n", halley}})));
  EXPECT_TRUE(CheckUserProfileWrite(no_custom, WithPolicy({}, Json::object())));  // deleting
  auto added = CheckUserProfileWrite(no_custom, WithPolicy({}, {{"a", halley}, {"n", local}}));
  ASSERT_TRUE(FailsWith(added, ErrorCode::kPermissionDenied));
  EXPECT_NE(added.error().Message().find("PreventAddCustomStorageVault"), std::string::npos);
  // Turning a requested vault into another type counts as adding one; so does a vault
  // without a type.
  Json retyped = {{"a", local}};
  EXPECT_FALSE(CheckUserProfileWrite(no_custom, WithPolicy({}, retyped)));
  EXPECT_FALSE(CheckUserProfileWrite(no_custom, WithPolicy({}, {{"n", Json::object()}})));
  // The flags come from the stored profile: a write cannot lift them.
  EXPECT_FALSE(CheckUserProfileWrite(no_custom, {{"Destinations", {{"n", local}}}}));
}

}  // namespace
}  // namespace halley::server
