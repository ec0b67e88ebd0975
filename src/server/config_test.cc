// SPDX-License-Identifier: Apache-2.0
#include "server/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/test_util.h"
#include "crypto/bcrypt.h"
#include "fs/fs.h"

namespace halley::server {
namespace {

TEST(ServerConfig, WritesTheDefaultWhenMissingAndReadsItBack) {
  testutil::TempDir dir;
  const std::string path = dir.Path() + "/halleyd.cfg";
  auto config = ServerConfig::LoadOrCreate(path, dir.Path());
  ASSERT_TRUE(config) << config.error().Message();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(config->AuthRoleEnabled());
  EXPECT_TRUE(config->StorageRoleEnabled());
  ASSERT_EQ(config->ListenAddresses().size(), 1u);
  EXPECT_EQ(config->ListenAddresses()[0].address, "127.0.0.1:8060");
  EXPECT_EQ(config->StorageVolumes(), std::vector<std::string>{dir.Path() + "/storage"});
  EXPECT_FALSE(config->HasAdmins());
  EXPECT_EQ(config->PruneLogsAfterDays(), 90);
  EXPECT_EQ(config->SessionSeconds(), 1800);
}

TEST(ServerConfig, KeepsUnknownKeysAcrossARewrite) {
  testutil::TempDir dir;
  const std::string path = dir.Path() + "/halleyd.cfg";
  Json doc = ServerConfig::Default(dir.Path());
  doc["Branding"] = {{"ProductName", "Acme Backup"}};
  doc["StorageRole"]["FutureOption"] = 42;
  ASSERT_TRUE(fs::WriteFileAtomic(path, doc.dump(), 0600));
  auto config = ServerConfig::LoadOrCreate(path, dir.Path());
  ASSERT_TRUE(config);
  ASSERT_TRUE(config->Save(path));
  auto again = ServerConfig::LoadOrCreate(path, dir.Path());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Document()["Branding"]["ProductName"], "Acme Backup");
  EXPECT_EQ(again->Document()["StorageRole"]["FutureOption"], 42);
}

TEST(ServerConfig, RejectsKnownKeysOfTheWrongTypeNamingThem) {
  struct Case {
    const char* pointer;
    Json value;
    const char* message;
  };
  const Case cases[] = {
      {"/StorageRole/RoleEnabled", "yes", "StorageRole.RoleEnabled must be a boolean"},
      {"/ListenAddresses", Json::array(), "ListenAddresses needs an address"},
      {"/AuthenticationRole/PruneLogsAfterDays", "90", "PruneLogsAfterDays must be an integer"},
      {"/StorageRole/Storage/DestinationType", 1003, "1003 is not supported"},
      {"/StorageRole/Storage/DestinationType", kDestinationS3, "S3Server is needed"},
      {"/StorageRole/Storage/LocalcopyPath", "", "LocalcopyPath is empty"},
      {"/AdminUsers", Json::array({{{"Username", 5}}}), "Username must be a string"},
      {"/AuthenticationRole/GenerateMissedBackupEvents", 1,
       "GenerateMissedBackupEvents must be a boolean"},
      {"/AuthenticationRole/AbandonJobsAfterSeconds", 9,
       "AuthenticationRole.AbandonJobsAfterSeconds must be between 10 and"},
      {"/AuthenticationRole/MissedBackupGraceSeconds", -1, "must be between 0 and"},
      {"/AuthenticationRole/NoMissedBackupEventsBefore", "0", "must be an integer"},
  };
  for (const Case& c : cases) {
    Json doc = ServerConfig::Default("/d");
    doc[Json::json_pointer(c.pointer)] = c.value;
    auto config = ServerConfig::FromJson(doc, "/d");
    ASSERT_FALSE(config) << c.pointer;
    EXPECT_NE(config.error().Message().find(c.message), std::string::npos)
        << config.error().Message();
  }
}

TEST(ServerConfig, SpannedStorageListsEveryVolumeResolvedAgainstTheDataDir) {
  Json doc = ServerConfig::Default("/data");
  doc["StorageRole"]["Storage"] = {
      {"DestinationType", kDestinationSpanned},
      {"SpanTargets",
       Json::array({{{"DestinationType", kDestinationLocalPath}, {"LocalcopyPath", "v1"}},
                    {{"DestinationType", kDestinationLocalPath}, {"LocalcopyPath", "/mnt/v2"}}})}};
  auto config = ServerConfig::FromJson(doc, "/data");
  ASSERT_TRUE(config) << config.error().Message();
  EXPECT_EQ(config->StorageVolumes(), (std::vector<std::string>{"/data/v1", "/mnt/v2"}));
  doc["StorageRole"]["Storage"]["SpanTargets"] = Json::array();
  EXPECT_FALSE(ServerConfig::FromJson(doc, "/data"));
}

TEST(ServerConfig, S3StorageGivesTheBucketLocationAndNoVolumes) {
  Json doc = ServerConfig::Default("/data");
  doc["StorageRole"]["Storage"] = {{"DestinationType", kDestinationS3},
                                   {"S3Server", "rgw.example.com:7480"},
                                   {"S3UsesTLS", false},
                                   {"S3BucketName", "halley"},
                                   {"S3Subdir", "/buckets/"},
                                   {"S3AccessKey", "AK"},
                                   {"S3SecretKey", "SK"},
                                   {"S3CustomRegion", "eu-1"}};
  auto config = ServerConfig::FromJson(doc, "/data");
  ASSERT_TRUE(config) << config.error().Message();
  auto s3 = config->StorageS3();
  ASSERT_TRUE(s3);
  EXPECT_EQ(s3->location, "http://rgw.example.com:7480/halley/buckets");
  EXPECT_EQ(s3->access_key, "AK");
  EXPECT_EQ(s3->secret_key, "SK");
  EXPECT_EQ(s3->region, "eu-1");
  EXPECT_TRUE(config->StorageVolumes().empty());
  doc["StorageRole"]["Storage"]["S3UsesTLS"] = "no";
  EXPECT_FALSE(ServerConfig::FromJson(doc, "/data"));
  doc["StorageRole"]["Storage"].erase("S3UsesTLS");  // https by default
  EXPECT_EQ(ServerConfig::FromJson(doc, "/data")->StorageS3()->location,
            "https://rgw.example.com:7480/halley/buckets");
  EXPECT_FALSE(ServerConfig::FromJson(ServerConfig::Default("/d"), "/d")->StorageS3());
}

TEST(ServerConfig, HashesPlaintextAdminPasswords) {
  Json doc = ServerConfig::Default("/d");
  doc["AdminUsers"] =
      Json::array({{{"Username", "admin"}, {"PasswordFormat", 0}, {"Password", "hunter2"}}});
  auto config = ServerConfig::FromJson(doc, "/d");
  ASSERT_TRUE(config);
  ASSERT_TRUE(*config->HashPlaintextPasswords());
  const Json& admin = config->Document()["AdminUsers"][0];
  EXPECT_EQ(admin["PasswordFormat"], kPasswordFormatBcryptSha512);
  const std::string hash = admin["Password"];
  EXPECT_EQ(hash.find("hunter2"), std::string::npos);
  EXPECT_TRUE(crypto::BcryptSha512Verify(AsBytes("hunter2"), hash));
  EXPECT_FALSE(*config->HashPlaintextPasswords());  // nothing left to hash
}

TEST(ServerConfig, ServerGeneratedJobKeys) {
  Json doc = ServerConfig::Default("/d");
  auto defaults = ServerConfig::FromJson(doc, "/d");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->AbandonJobsAfterSeconds(), 600);
  EXPECT_TRUE(defaults->GenerateMissedBackupEvents());
  EXPECT_EQ(defaults->NoMissedBackupEventsBefore(), 0);
  EXPECT_EQ(defaults->MissedBackupGraceSeconds(), 600);
  doc["AuthenticationRole"] = {{"AbandonJobsAfterSeconds", 10},
                               {"GenerateMissedBackupEvents", false},
                               {"NoMissedBackupEventsBefore", 1'700'000'000},
                               {"MissedBackupGraceSeconds", 0}};
  auto set = ServerConfig::FromJson(doc, "/d");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->AbandonJobsAfterSeconds(), 10);
  EXPECT_FALSE(set->GenerateMissedBackupEvents());
  EXPECT_EQ(set->NoMissedBackupEventsBefore(), 1'700'000'000);
  EXPECT_EQ(set->MissedBackupGraceSeconds(), 0);
  doc["AuthenticationRole"] = Json::object();  // absent keys take their defaults
  EXPECT_EQ(ServerConfig::FromJson(doc, "/d")->AbandonJobsAfterSeconds(), 600);
}

TEST(ServerConfig, OrganizationsAndTenantAdmins) {
  testutil::TempDir dir;
  Json doc = ServerConfig::Default(dir.Path());
  doc["AdminUsers"] =
      Json::array({{{"Username", "root"}, {"Password", "x"}},
                   {{"Username", "t"}, {"Password", "x"}, {"OrganizationID", "A"}}});
  doc["Organizations"] = {{"A", {{"Name", "Acme"}, {"Hosts", {"acme.example"}}, {"Future", 1}}}};
  auto config = ServerConfig::FromJson(doc, dir.Path());
  ASSERT_TRUE(config) << config.error().Message();
  EXPECT_EQ(config->Organizations()["A"]["Future"], 1);
  EXPECT_EQ(config->AdminOrganization("root"), "");
  EXPECT_EQ(config->AdminOrganization("t"), "A");
  EXPECT_EQ(config->AdminOrganization("nobody"), std::nullopt);
  EXPECT_TRUE(ServerConfig::FromJson(ServerConfig::Default(dir.Path()), dir.Path())
                  ->Organizations()
                  .empty());
  for (const auto& [pointer, value] :
       std::vector<std::pair<std::string, Json>>{{"/Organizations", Json::array()},
                                                 {"/Organizations/A", "Acme"},
                                                 {"/Organizations/A/Name", 1},
                                                 {"/Organizations/A/IsSuspended", "no"},
                                                 {"/AdminUsers/1/OrganizationID", 7}}) {
    Json bad = doc;
    bad[Json::json_pointer(pointer)] = value;
    EXPECT_FALSE(ServerConfig::FromJson(bad, dir.Path())) << pointer;
  }
}

}  // namespace
}  // namespace halley::server
