// SPDX-License-Identifier: Apache-2.0
//
// RestBlobStore against a real halleyd Storage Role, in process: server::App behind
// httpd::StartServer on a loopback port, one fresh bucket per store. It lives under tests/
// because storage/ may not depend on server/ (DESIGN §2).
//
// The conformance suite names objects at random, so it runs against a server configured with
// StorageRole.VerifyUploads off; the other tests use a server with the default (on), which
// refuses an upload whose SHA-256 is not its name.
#include "storage/rest_blob_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "fs/fs.h"
#include "httpd/http.h"
#include "server/app.h"
#include "storage/blob_store_conformance.h"

namespace halley::storage {
namespace {

using testutil::FailsWith;
using testutil::RandomBytes;
using testutil::SameBytes;
using testutil::Succeeds;

class TestHalleyd {
 public:
  // Started on first use, stopped by the environment below. `verify_uploads` is the
  // server's StorageRole.VerifyUploads.
  static TestHalleyd& Get(bool verify_uploads = true) {
    TestHalleyd*& s = Instance(verify_uploads);
    if (s == nullptr) s = new TestHalleyd(verify_uploads);
    return *s;
  }
  static TestHalleyd*& Instance(bool verify_uploads) {
    static TestHalleyd* servers[2] = {nullptr, nullptr};
    return servers[verify_uploads ? 1 : 0];
  }

  struct Bucket {
    std::string id;
    std::string key;
  };
  Bucket NewBucket() {
    auto b = app_->Buckets().Register("", 0, "", "");
    HALLEY_CHECK(b.has_value());
    return {b->id, b->key};
  }
  std::string Address() const { return address_; }
  std::string Url(const Bucket& b, std::string_view key = {}) const {
    return "http://" + b.id + ":" + std::string(key.empty() ? b.key : key) + "@" + address_ +
           "/storage/" + b.id + "/";
  }
  BlobStorePtr Open(const Bucket& b) {
    auto store = RestBlobStore::Open(Url(b));
    HALLEY_CHECK(store.has_value());
    return std::move(*store);
  }

  // Buckets whose requests lose their Accept header, so that the server answers in v1.
  void SetV1(const std::string& id) {
    std::lock_guard lock(mu_);
    v1_.insert(id);
  }

 private:
  explicit TestHalleyd(bool verify_uploads) {
    SetLogLevel(LogLevel::kWarning);  // not a line per request
    Json config = server::ServerConfig::Default(dir_.Path());
    config["StorageRole"]["VerifyUploads"] = verify_uploads;
    HALLEY_CHECK(fs::WriteFileAtomic(dir_.Sub("halleyd.cfg"), config.dump(), 0600).has_value());
    server::AppOptions options;
    options.data_dir = dir_.Path();
    auto app = server::App::Open(std::move(options));
    HALLEY_CHECK(app.has_value());
    app_ = std::move(*app);
    httpd::ListenSpec listen;
    listen.address = "127.0.0.1:0";
    auto server = httpd::StartServer({listen}, [this](httpd::Request& req) { return Serve(req); });
    HALLEY_CHECK(server.has_value());
    server_ = std::move(*server);
    address_ = server_->BoundAddresses().at(0);
  }

  // Passes every request to the server; for buckets marked v1 the Accept header is dropped
  // first, so that the server answers in the REST protocol's version 1.
  httpd::Response Serve(httpd::Request& req) {
    std::string_view path = req.path;
    path.remove_prefix(std::min(path.size(), std::string_view("/storage/").size()));
    const std::string bucket(path.substr(0, path.find('/')));
    bool v1;
    {
      std::lock_guard lock(mu_);
      v1 = v1_.count(bucket) > 0;
    }
    if (v1) std::erase_if(req.headers, [](const auto& h) { return h.first == "accept"; });
    return app_->Handle(req);
  }

  testutil::TempDir dir_;
  std::unique_ptr<server::App> app_;
  std::unique_ptr<httpd::Server> server_;
  std::string address_;
  std::mutex mu_;
  std::set<std::string> v1_;  // guarded by mu_
  friend class ServerEnvironment;
};

class ServerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    for (bool verify : {false, true}) {
      if (TestHalleyd* s = TestHalleyd::Instance(verify)) {
        s->server_->Stop();
        delete s;
        TestHalleyd::Instance(verify) = nullptr;
      }
    }
  }
};
const auto* const kServerEnvironment = ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

INSTANTIATE_TEST_SUITE_P(Rest, BlobStoreConformanceTest,
                         ::testing::Values(BlobStoreFactory{"Halleyd",
                                                            [] {
                                                              TestHalleyd& s =
                                                                  TestHalleyd::Get(false);
                                                              return s.Open(s.NewBucket());
                                                            }}),
                         BlobStoreFactoryName);

// A name the server accepts: the SHA-256 of the content.
ObjectHandle NameOf(ObjectType type, ByteView data) { return {type, crypto::Sha256(data).Hex()}; }

class RestBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_ = Server().NewBucket();
    store_ = Server().Open(bucket_);
    ASSERT_TRUE(Succeeds(store_->Create()));
  }
  static TestHalleyd& Server() { return TestHalleyd::Get(); }

  TestHalleyd::Bucket bucket_;
  BlobStorePtr store_;
};

TEST_F(RestBlobStoreTest, BodiesRoundTrip) {
  uint64_t seed = 1;
  for (size_t size : {size_t{0}, size_t{1}, (size_t{1} << 20) + 7}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const Bytes data = RandomBytes(size, seed++);
    const ObjectHandle h = NameOf(ObjectType::kData, data);
    ASSERT_TRUE(Succeeds(store_->Put(h, data)));
    EXPECT_EQ(store_->Stat(h).value_or(~uint64_t{0}), size);
    auto got = store_->Get(h);
    ASSERT_TRUE(Succeeds(got));
    EXPECT_TRUE(SameBytes(*got, data));
    Bytes buf(size);
    ASSERT_TRUE(Succeeds(store_->ReadAt(h, 0, buf)));
    EXPECT_TRUE(SameBytes(buf, data));
    // The server acknowledges a retried upload of the same content; other content under an
    // existing name never replaces it.
    EXPECT_TRUE(Succeeds(store_->Put(h, data)));
    if (size > 0) {
      Bytes other = data;
      other[0] ^= 1;
      EXPECT_TRUE(FailsWith(store_->Put(h, other), ErrorCode::kInvalidArgument));
      EXPECT_TRUE(SameBytes(*store_->Get(h), data));
    }
  }
}

TEST_F(RestBlobStoreTest, TheServerRefusesAFalseName) {
  const Bytes data = RandomBytes(100, 3);
  ObjectHandle h = NameOf(ObjectType::kSnapshot, data);
  h.name[0] = h.name[0] == '0' ? '1' : '0';
  EXPECT_TRUE(FailsWith(store_->Put(h, data), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(store_->Stat(h), ErrorCode::kNotFound));
}

TEST_F(RestBlobStoreTest, RangePastTheEndIsCorruption) {
  const Bytes data = RandomBytes(1000, 4);
  const ObjectHandle h = NameOf(ObjectType::kData, data);
  ASSERT_TRUE(Succeeds(store_->Put(h, data)));
  EXPECT_TRUE(FailsWith(store_->Get(h, 990, 11), ErrorCode::kCorruption));
  EXPECT_TRUE(FailsWith(store_->Get(h, 1000, 1), ErrorCode::kCorruption));
  EXPECT_TRUE(FailsWith(store_->Get(h, 1001, 0), ErrorCode::kCorruption));
  Bytes buf(20);
  EXPECT_TRUE(FailsWith(store_->ReadAt(h, 990, buf), ErrorCode::kCorruption));
  EXPECT_TRUE(FailsWith(store_->ReadAt(h, 5000, buf), ErrorCode::kCorruption));
  auto tail = store_->Get(h, 990, 10);
  ASSERT_TRUE(Succeeds(tail));
  EXPECT_TRUE(SameBytes(*tail, ByteView(data).subspan(990)));
}

TEST_F(RestBlobStoreTest, WrongKeyIsUnauthenticated) {
  const std::string wrong(32, '0');
  auto store = RestBlobStore::Open(Server().Url(bucket_, wrong));
  ASSERT_TRUE(Succeeds(store));
  auto stat = (*store)->Stat(ObjectHandle::Config());
  ASSERT_TRUE(FailsWith(stat, ErrorCode::kUnauthenticated));
  EXPECT_NE(stat.error().Message().find("refused the vault's credentials"), std::string::npos)
      << stat.error().Message();
  EXPECT_EQ(stat.error().Message().find(wrong), std::string::npos);
  const Bytes data = RandomBytes(10, 5);
  EXPECT_TRUE(
      FailsWith((*store)->Put(NameOf(ObjectType::kKey, data), data), ErrorCode::kUnauthenticated));
  EXPECT_TRUE(FailsWith(
      (*store)->List(ObjectType::kSnapshot, [](const ObjectInfo&) -> Result<void> { return {}; }),
      ErrorCode::kUnauthenticated));
  // Another bucket's key does not open this one either.
  const TestHalleyd::Bucket other = Server().NewBucket();
  auto crossed = RestBlobStore::Open(Server().Url(bucket_, other.key));
  ASSERT_TRUE(Succeeds(crossed));
  EXPECT_TRUE(FailsWith((*crossed)->Stat(ObjectHandle::Config()), ErrorCode::kUnauthenticated));
}

TEST_F(RestBlobStoreTest, LocationAndMessagesHideTheKey) {
  EXPECT_EQ(store_->Location(), "rest:http://" + Server().Address() + "/storage/" + bucket_.id);
  auto missing = store_->Get(ObjectHandle::Config());
  ASSERT_TRUE(FailsWith(missing, ErrorCode::kNotFound));
  EXPECT_EQ(missing.error().Message().find(bucket_.key), std::string::npos);
  EXPECT_NE(missing.error().Message().find(store_->Location()), std::string::npos)
      << missing.error().Message();
}

TEST_F(RestBlobStoreTest, PercentEncodedCredentials) {
  std::string encoded;
  for (char c : bucket_.key) encoded += "%" + HexEncode(AsBytes(std::string_view(&c, 1)));
  auto store = RestBlobStore::Open(Server().Url(bucket_, encoded));
  ASSERT_TRUE(Succeeds(store));
  EXPECT_TRUE(FailsWith((*store)->Stat(ObjectHandle::Config()), ErrorCode::kNotFound));
}

TEST_F(RestBlobStoreTest, ListsAServerSpeakingV1) {
  Server().SetV1(bucket_.id);
  std::map<std::string, uint64_t> want;
  for (int i = 0; i < 5; ++i) {
    const Bytes data = RandomBytes(static_cast<size_t>(100 * i), static_cast<uint64_t>(10 + i));
    const ObjectHandle h = NameOf(ObjectType::kIndex, data);
    ASSERT_TRUE(Succeeds(store_->Put(h, data)));
    want[h.name] = data.size();
  }
  auto listed = testutil::ListAll(*store_, ObjectType::kIndex);
  ASSERT_TRUE(Succeeds(listed));
  EXPECT_EQ(*listed, want);
}

TEST(RestBlobStoreOpenTest, UnreachableServerIsUnavailable) {
  const std::string url =
      "http://b:secret-key@127.0.0.1:" + std::to_string(::halley::testutil::UnusedLoopbackPort()) +
      "/storage/b/";
  auto store = RestBlobStore::Open(url);
  ASSERT_TRUE(Succeeds(store));
  auto stat = (*store)->Stat(ObjectHandle::Config());
  ASSERT_TRUE(FailsWith(stat, ErrorCode::kUnavailable));
  EXPECT_EQ(stat.error().Message().find("secret-key"), std::string::npos);
  const Bytes data = RandomBytes(10, 6);
  EXPECT_TRUE(
      FailsWith((*store)->Put(NameOf(ObjectType::kData, data), data), ErrorCode::kUnavailable));
}

TEST(RestBlobStoreOpenTest, Urls) {
  for (const char* bad : {"ftp://h/x/", "h:1/x/", "http:///x/", "http://h/x/?a=b", "http://h/#f",
                          "http://u:%zz@h/x/"}) {
    EXPECT_TRUE(FailsWith(RestBlobStore::Open(bad), ErrorCode::kInvalidArgument)) << bad;
  }
  auto bad = RestBlobStore::Open("http://u:pa%zzss@h/?q");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().Message().find("pa%zzss"), std::string::npos) << bad.error().Message();

  auto a = RestBlobStore::Open("https://user:p%40ss@example.org:8443/storage/b");
  ASSERT_TRUE(Succeeds(a));
  EXPECT_EQ((*a)->Location(), "rest:https://example.org:8443/storage/b");
  auto b = RestBlobStore::Open("http://127.0.0.1:8000");
  ASSERT_TRUE(Succeeds(b));
  EXPECT_EQ((*b)->Location(), "rest:http://127.0.0.1:8000");
}

}  // namespace
}  // namespace halley::storage
