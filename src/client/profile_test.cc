// SPDX-License-Identifier: Apache-2.0
#include "client/profile.h"

#include <gtest/gtest.h>

#include <tuple>

#include "base/test_util.h"
#include "crypto/random.h"

namespace halley::client {
namespace {

using testutil::FailsWith;
using testutil::Succeeds;
using testutil::TempDir;
using testutil::UnusedLoopbackPort;

const Bytes kR = Bytes(24, 0x42);
const Bytes kOtherR = Bytes(24, 0x43);

Json ProfileWith(const std::string& id, Json vault) {
  Json p = {{"Username", "alice"}, {"Destinations", Json::object()}};
  p["Destinations"][id] = std::move(vault);
  return p;
}

TEST(ProfileTest, FindsEntriesByIdOrUniqueDescription) {
  Json p = {{"Destinations",
             {{"id-1", {{"Description", "offsite"}}},
              {"id-2", {{"Description", "local"}}},
              {"id-3", {{"Description", "local"}}}}}};
  EXPECT_EQ(*FindEntry(p, "Destinations", "offsite"), "id-1");
  EXPECT_EQ(*FindEntry(p, "Destinations", "id-3"), "id-3");
  auto ambiguous = FindEntry(p, "Destinations", "local");
  ASSERT_TRUE(FailsWith(ambiguous, ErrorCode::kInvalidArgument));
  auto missing = FindEntry(p, "Destinations", "cloud");
  ASSERT_TRUE(FailsWith(missing, ErrorCode::kNotFound));
  EXPECT_NE(missing.error().Message().find("\"offsite\" (id-1)"), std::string::npos);
  EXPECT_TRUE(FailsWith(FindEntry(p, "Sources", "x"), ErrorCode::kNotFound));
}

TEST(ProfileTest, BucketVaultSecretsRoundTripWrappedByR) {
  auto v = VaultForLocation("rest:https://b1:0123abcd@backup.example.com:8060/storage/b1/",
                            "offsite", kR, 1700000000);
  ASSERT_TRUE(Succeeds(v));
  EXPECT_EQ((*v)["DestinationType"], kVaultHalleyBucket);
  EXPECT_EQ((*v)["CometServer"], "https://backup.example.com:8060/");
  EXPECT_EQ((*v)["CometBucket"], "b1");
  EXPECT_EQ((*v)["CometBucketKey"], "");
  EXPECT_EQ(v->dump().find("0123abcd"), std::string::npos);  // only wrapped
  EXPECT_FALSE(HasVaultKeys(*v));
  EXPECT_TRUE(FailsWith(ReadVault(ProfileWith("v", *v), "v", kR), ErrorCode::kInvalidArgument));

  SetVaultPassword(*v, kR, "feedface");
  EXPECT_EQ(v->dump().find("feedface"), std::string::npos);
  EXPECT_TRUE(HasVaultKeys(*v));
  const Json profile = ProfileWith("v", *v);
  auto access = ReadVault(profile, "v", kR);
  ASSERT_TRUE(Succeeds(access));
  EXPECT_EQ(access->password, "feedface");
  EXPECT_EQ(access->location, "rest:https://b1:0123abcd@backup.example.com:8060/storage/b1/");
  EXPECT_EQ(access->description, "offsite");
  EXPECT_FALSE(access->initialized);

  EXPECT_TRUE(FailsWith(ReadVault(profile, "v", kOtherR), ErrorCode::kUnauthenticated));
  EXPECT_TRUE(FailsWith(ReadVault(profile, "w", kR), ErrorCode::kNotFound));
}

TEST(ProfileTest, AWrappedKeyCannotMoveToAnotherSlot) {
  auto v = VaultForLocation("rest:http://b1:k1@h/storage/b1/", "x", kR, 0);
  ASSERT_TRUE(Succeeds(v));
  SetVaultPassword(*v, kR, "pw");
  // The bucket key's wrap names its bucket; pointing the entry at another bucket breaks it.
  (*v)["CometBucket"] = "b2";
  EXPECT_TRUE(FailsWith(ReadVault(ProfileWith("v", *v), "v", kR), ErrorCode::kUnauthenticated));
  // The vault password cannot pass for a bucket key either.
  (*v)["CometBucket"] = "b1";
  (*v)["EncryptedBucketKey"] = (*v)["EncryptedEncryptionKey"];
  EXPECT_TRUE(FailsWith(ReadVault(ProfileWith("v", *v), "v", kR), ErrorCode::kUnauthenticated));
}

TEST(ProfileTest, ClonedEncryptionFieldsOpenUnderAnotherVaultId) {
  // The manual's cloning procedure copies the three encryption fields to another entry.
  auto a = VaultForLocation("/srv/a", "a", kR, 0);
  ASSERT_TRUE(Succeeds(a));
  SetVaultPassword(*a, kR, "secret-e");
  (*a)["RepoInitTimestamp"] = 1700000000;
  auto b = VaultForLocation("/srv/b", "b", kR, 0);
  ASSERT_TRUE(Succeeds(b));
  for (const char* f :
       {"EncryptionKeyEncryptionMethod", "EncryptedEncryptionKey", "RepoInitTimestamp"}) {
    (*b)[f] = (*a)[f];
  }
  auto access = ReadVault(ProfileWith("other-id", *b), "other-id", kR);
  ASSERT_TRUE(Succeeds(access));
  EXPECT_EQ(access->password, "secret-e");
  EXPECT_EQ(access->location, "/srv/b");
  EXPECT_TRUE(access->initialized);
}

TEST(ProfileTest, APlainBucketKeyFromTheAdminIsUsedAsItIs) {
  Json v = {{"Description", "seeded"},
            {"DestinationType", kVaultHalleyBucket},
            {"CometServer", "http://127.0.0.1:8060"},
            {"CometBucket", "b9"},
            {"CometBucketKey", "k/+y"},
            {"EncryptionKeyEncryptionMethod", 0}};
  EXPECT_FALSE(HasVaultKeys(v));
  SetVaultPassword(v, kR, "pw");
  auto access = ReadVault(ProfileWith("v", v), "v", kR);
  ASSERT_TRUE(Succeeds(access));
  EXPECT_EQ(access->location, "rest:http://b9:k%2F%2By@127.0.0.1:8060/storage/b9/");
}

TEST(ProfileTest, RejectsLocationsItCannotRecord) {
  for (const char* bad : {"", "s3:host/bucket", "rest:http://h/storage/b1/",
                          "rest:http://b1:k@h/other/b1/", "rest:http://b1:k@h/storage/b2/",
                          "rest:http://b1:@h/storage/b1/", "rest:http://b 1:k@h/storage/b 1/"}) {
    EXPECT_TRUE(FailsWith(VaultForLocation(bad, "x", kR, 0), ErrorCode::kInvalidArgument)) << bad;
  }
  auto local = VaultForLocation("local:/srv/vault", "x", kR, 0);
  ASSERT_TRUE(Succeeds(local));
  EXPECT_EQ((*local)["DestinationType"], kVaultLocalPath);
  EXPECT_EQ((*local)["LocalcopyPath"], "/srv/vault");
  Json other = {{"DestinationType", 1004},  // FTP
                {"EncryptionKeyEncryptionMethod", 1},
                {"EncryptedEncryptionKey", ""}};
  EXPECT_TRUE(FailsWith(ReadVault(ProfileWith("v", other), "v", kR), ErrorCode::kCorruption));
  SetVaultPassword(other, kR, "pw");
  EXPECT_TRUE(FailsWith(ReadVault(ProfileWith("v", other), "v", kR), ErrorCode::kNotSupported));
}

TEST(ProfileTest, APasswordChangeRewrapsEverySecret) {
  auto bucket = VaultForLocation("rest:http://b1:key1@h/storage/b1/", "remote", kR, 0);
  auto local = VaultForLocation("/srv/v", "local", kR, 0);
  ASSERT_TRUE(Succeeds(bucket));
  ASSERT_TRUE(Succeeds(local));
  SetVaultPassword(*bucket, kR, "pw-remote");
  SetVaultPassword(*local, kR, "pw-local");
  Json p = {{"Destinations", {{"a", *bucket}, {"b", *local}, {"c", {{"Description", "bare"}}}}}};
  ASSERT_TRUE(Succeeds(RewrapSecrets(p, kR, kOtherR)));
  EXPECT_TRUE(FailsWith(ReadVault(p, "a", kR), ErrorCode::kUnauthenticated));
  auto a = ReadVault(p, "a", kOtherR);
  auto b = ReadVault(p, "b", kOtherR);
  ASSERT_TRUE(Succeeds(a));
  ASSERT_TRUE(Succeeds(b));
  EXPECT_EQ(a->password, "pw-remote");
  EXPECT_EQ(a->location, "rest:http://b1:key1@h/storage/b1/");
  EXPECT_EQ(b->password, "pw-local");
  // Keys already under the new R stay (a vault made after an admin's reset).
  const Json before = p;
  ASSERT_TRUE(Succeeds(RewrapSecrets(p, kR, kOtherR)));
  EXPECT_EQ(p, before);
  // A secret neither key opens stops the change: saving would lose it.
  EXPECT_TRUE(FailsWith(RewrapSecrets(p, kR, Bytes(24, 0x44)), ErrorCode::kUnauthenticated));
}

TEST(ProfileTest, S3VaultsKeepTheirSecretKeyWrapped) {
  const S3Credentials creds{"AKIDEXAMPLE", "secret/key+1", "eu-west-1"};
  auto v = VaultForLocation("s3:http://127.0.0.1:7480/bucket/a/b/", "cloud", kR, 0, creds);
  ASSERT_TRUE(Succeeds(v));
  EXPECT_EQ((*v)["DestinationType"], kVaultS3);
  EXPECT_EQ((*v)["S3Server"], "127.0.0.1:7480");
  EXPECT_EQ((*v)["S3UsesTLS"], false);
  EXPECT_EQ((*v)["S3BucketName"], "bucket");
  EXPECT_EQ((*v)["S3Subdir"], "a/b");
  EXPECT_EQ((*v)["S3AccessKey"], "AKIDEXAMPLE");
  EXPECT_EQ((*v)["S3SecretKey"], "");
  EXPECT_EQ(v->dump().find("secret/key"), std::string::npos) << v->dump();
  SetVaultPassword(*v, kR, "pw");
  Json p = ProfileWith("v1", *v);
  auto read = ReadVault(p, "v1", kR);
  ASSERT_TRUE(Succeeds(read));
  EXPECT_EQ(read->location, "s3:http://127.0.0.1:7480/bucket/a/b");
  EXPECT_EQ(read->s3_access_key, "AKIDEXAMPLE");
  EXPECT_EQ(read->s3_secret_key, "secret/key+1");
  EXPECT_EQ(read->s3_region, "eu-west-1");
  // A password change re-wraps the secret key too.
  ASSERT_TRUE(Succeeds(RewrapSecrets(p, kR, kOtherR)));
  EXPECT_TRUE(FailsWith(ReadVault(p, "v1", kR), ErrorCode::kUnauthenticated));
  auto after = ReadVault(p, "v1", kOtherR);
  ASSERT_TRUE(Succeeds(after));
  EXPECT_EQ(after->s3_secret_key, "secret/key+1");
  // TLS unless the location says http://; an admin's plain S3SecretKey is used as it is.
  auto aws = VaultForLocation("s3:s3.amazonaws.com/b", "aws", kR, 0, creds);
  ASSERT_TRUE(Succeeds(aws));
  SetVaultPassword(*aws, kR, "pw");
  (*aws)["S3SecretKey"] = "plain";
  auto read_aws = ReadVault(ProfileWith("v2", *aws), "v2", kR);
  ASSERT_TRUE(Succeeds(read_aws));
  EXPECT_EQ(read_aws->location, "s3:https://s3.amazonaws.com/b");
  EXPECT_EQ(read_aws->s3_secret_key, "plain");
  // Without credentials, or without a bucket: refused.
  EXPECT_TRUE(FailsWith(VaultForLocation("s3:host/b", "x", kR, 0), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      FailsWith(VaultForLocation("s3:host/", "x", kR, 0, creds), ErrorCode::kInvalidArgument));
}

TEST(ProfileTest, S3ObjectLockFollowsTheProductsModes) {
  const Bytes r(24, 0x11);
  auto v = VaultForLocation("s3:http://h:1/b/p", "x", r, 0, S3Credentials{"AK", "SK", "", 7});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["S3ObjectLockMode"], kObjectLockOn);
  EXPECT_EQ((*v)["S3ObjectLockDays"], 7);
  SetVaultPassword(*v, r, "pw");
  Json p = {{"Destinations", {{"v1", *v}}}};
  auto read = ReadVault(p, "v1", r);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->s3_object_lock_days, 7);
  // (mode, days) -> days locked: legacy 0 is on when days > 0; 2 is off whatever the days.
  for (auto [mode, days, want] :
       {std::tuple{0, 5, 5}, {0, 0, 0}, {1, 0, 0}, {2, 9, 0}, {1, 3, 3}}) {
    p["Destinations"]["v1"]["S3ObjectLockMode"] = mode;
    p["Destinations"]["v1"]["S3ObjectLockDays"] = days;
    auto got = ReadVault(p, "v1", r);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->s3_object_lock_days, want) << mode << " " << days;
  }
  p["Destinations"]["v1"]["S3ObjectLockMode"] = 1;
  p["Destinations"]["v1"]["S3ObjectLockDays"] = 40000;
  EXPECT_FALSE(ReadVault(p, "v1", r).has_value());
  auto off = VaultForLocation("s3:http://h:1/b/p", "x", r, 0, S3Credentials{"AK", "SK", ""});
  ASSERT_TRUE(off.has_value());
  EXPECT_EQ((*off)["S3ObjectLockMode"], kObjectLockOff);
}

TEST(ProfileTest, SftpVaultsKeepTheirLoginWrapped) {
  const Bytes r(24, 0x22);
  const Bytes other_r(24, 0x33);
  SftpLogin login{"nas.lan:2222", "backup", "/srv/vault", kSftpAuthPassword, "pass word", ""};
  Json v = SftpVault(login, "nas", r, 5);
  EXPECT_EQ(v["DestinationType"], kVaultSftp);
  EXPECT_EQ(v["SFTPPassword"], "");  // only the wrapped copy
  EXPECT_EQ(v.dump().find("pass word"), std::string::npos);
  SetVaultPassword(v, r, "pw");
  Json p = {{"Destinations", {{"v", v}}}};
  auto read = ReadVault(p, "v", r);
  ASSERT_TRUE(read.has_value()) << read.error().Message();
  EXPECT_EQ(read->location, "sftp:backup@nas.lan:2222:/srv/vault");
  EXPECT_EQ(read->sftp_password, "pass word");
  EXPECT_EQ(read->sftp_private_key, "");
  EXPECT_EQ(read->sftp_known_hosts, "");
  EXPECT_FALSE(ReadVault(p, "v", other_r).has_value());
  // A password change re-wraps the SFTP secret too.
  ASSERT_TRUE(RewrapSecrets(p, r, other_r).has_value());
  EXPECT_EQ(ReadVault(p, "v", other_r)->sftp_password, "pass word");

  login = {"[::1]", "", "rel/dir", kSftpAuthPrivateKey, "-----BEGIN KEY-----", "/etc/kh"};
  Json k = SftpVault(login, "k", r, 5);
  SetVaultPassword(k, r, "pw");
  read = ReadVault(Json{{"Destinations", {{"k", k}}}}, "k", r);
  ASSERT_TRUE(read.has_value()) << read.error().Message();
  EXPECT_EQ(read->location, "sftp:[::1]:22:rel/dir");
  EXPECT_EQ(read->sftp_private_key, "-----BEGIN KEY-----");
  EXPECT_EQ(read->sftp_known_hosts, "/etc/kh");

  // As an admin writes it: plain password, a server without a port, the native login.
  Json admin = {{"DestinationType", kVaultSftp},
                {"SFTPServer", "host"},
                {"SFTPRemotePath", "a:b"},
                {"SFTPAuthMode", kSftpAuthPassword},
                {"SFTPPassword", "plain"},
                {"SFTPCustomAuth_UseKnownHostsFile", false},
                {"SFTPCustomAuth_KnownHostsFile", "/ignored"}};
  SetVaultPassword(admin, r, "pw");
  read = ReadVault(Json{{"Destinations", {{"a", admin}}}}, "a", r);
  ASSERT_TRUE(read.has_value()) << read.error().Message();
  EXPECT_EQ(read->location, "sftp:host:22:a:b");
  EXPECT_EQ(read->sftp_password, "plain");
  EXPECT_EQ(read->sftp_known_hosts, "");
  admin["SFTPServer"] = "u@host";
  EXPECT_TRUE(FailsWith(ReadVault(Json{{"Destinations", {{"a", admin}}}}, "a", r),
                        ErrorCode::kInvalidArgument));
}

TEST(ProfileTest, FieldsOfTheWrongTypeReadAsEmpty) {
  const Json j = {{"s", 5}, {"i", "7"}, {"ok", "x"}, {"n", 9}};
  EXPECT_EQ(StringField(j, "s"), "");
  EXPECT_EQ(IntField(j, "i"), 0);
  EXPECT_EQ(StringField(j, "ok"), "x");
  EXPECT_EQ(IntField(j, "n"), 9);
  EXPECT_EQ(StringField(Json::array(), "s"), "");
}

TEST(ProfileTest, FileItemsRoundTripThroughEngineProps) {
  FileItem item;
  item.description = "home";
  for (int i = 0; i < 12; ++i) item.paths.push_back("/data/" + std::to_string(i));
  item.excludes = {"*.tmp", "cache"};
  item.rescan_unchanged = true;
  Json p = {{"Sources", {{"s1", NewFileItem(item, "dev-1", 1700000000)}}}};
  EXPECT_EQ(p["Sources"]["s1"]["Engine"], "engine1/file");
  EXPECT_EQ(p["Sources"]["s1"]["OwnerDevice"], "dev-1");
  auto back = ReadFileItem(p, "s1");
  ASSERT_TRUE(Succeeds(back));
  EXPECT_EQ(back->id, "s1");
  EXPECT_EQ(back->description, "home");
  EXPECT_EQ(back->paths, item.paths);  // in order, also past 10
  EXPECT_EQ(back->excludes, item.excludes);
  EXPECT_TRUE(back->rescan_unchanged);

  p["Sources"]["s2"] = {{"Engine", "engine1/mysql"}, {"Description", "db"}};
  EXPECT_TRUE(FailsWith(ReadFileItem(p, "s2"), ErrorCode::kNotSupported));
  p["Sources"]["s3"] = {{"Engine", "engine1/file"}, {"EngineProps", Json::object()}};
  EXPECT_TRUE(FailsWith(ReadFileItem(p, "s3"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(ReadFileItem(p, "s4"), ErrorCode::kNotFound));
}

TEST(Profile, MandatoryExclusionsForThisOs) {
  EXPECT_TRUE(MandatoryExclusions(Json::object()).empty());
  EXPECT_TRUE(
      MandatoryExclusions({{"Policy", {{"FileAndFolderMandatoryExclusions", "x"}}}}).empty());
  const Json p = {{"Policy",
                   {{"FileAndFolderMandatoryExclusions",
                     Json::array({{{"Exclude", "*.tmp"}},
                                  {{"Exclude", "C:\\Windows"}, {"RestrictOS", 1}},
                                  {{"Exclude", "/Library"}, {"RestrictOS", 4}},
                                  {{"Exclude", "\\.cache$"}, {"Regex", true}, {"RestrictOS", 5}},
                                  {{"Exclude", "/srv/any"}, {"RestrictOS", 0}},
                                  {{"Exclude", "/by-name"}, {"RestrictOS", "Linux"}},
                                  {{"Exclude", "/mac-name"}, {"RestrictOS", "macos"}},
                                  {{"Regex", true}},
                                  {{"Exclude", ""}},
                                  42})}}}};
  const std::vector<MandatoryExclusion> got = MandatoryExclusions(p);
  std::vector<std::pair<std::string, bool>> flat;
  for (const auto& m : got) flat.emplace_back(m.pattern, m.regex);
  EXPECT_EQ(flat,
            (std::vector<std::pair<std::string, bool>>{
                {"*.tmp", false}, {"\\.cache$", true}, {"/srv/any", false}, {"/by-name", false}}));
}

}  // namespace
}  // namespace halley::client
