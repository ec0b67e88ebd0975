// SPDX-License-Identifier: Apache-2.0
//
// Runs the conformance suite on every backend of this library. Other backends instantiate it
// in their own test binaries.
#include "storage/blob_store_conformance.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "storage/faulty_blob_store.h"
#include "storage/limited_blob_store.h"
#include "storage/local_blob_store.h"
#include "storage/mem_blob_store.h"
#include "storage/spanned_blob_store.h"
#include "storage/storage_test_util.h"

namespace halley::storage {
namespace {

// One scratch directory for the whole binary; each store gets a fresh vault inside it.
testutil::TempDir& ScratchDir() {
  static auto* dir = new testutil::TempDir();  // removed by the environment below
  return *dir;
}

class ScratchDirEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { delete &ScratchDir(); }
};
const auto* const kScratchEnvironment =
    ::testing::AddGlobalTestEnvironment(new ScratchDirEnvironment);

BlobStorePtr MakeLocal(bool rename_noreplace) {
  static int next = 0;
  // A path below a directory that does not exist yet: Create() must make the parents.
  const std::string root = ScratchDir().Sub("vault" + std::to_string(next++)) + "/repo";
  auto store = LocalBlobStore::Open(root, {.rename_noreplace = rename_noreplace});
  HALLEY_CHECK(store.has_value());
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, BlobStoreConformanceTest,
    ::testing::Values(
        BlobStoreFactory{"Local", [] { return MakeLocal(true); }},
        BlobStoreFactory{"LocalLinkPublish", [] { return MakeLocal(false); }},
        BlobStoreFactory{"Mem", [] { return MemBlobStore::Make(); }},
        BlobStoreFactory{"FaultyNoFaultsOverMem",
                         [] { return std::make_unique<FaultyBlobStore>(MemBlobStore::Make()); }},
        BlobStoreFactory{"SpannedOverTwoLocal",
                         [] {
                           std::vector<SpannedBlobStore::Member> members;
                           members.push_back({MakeLocal(true), nullptr});
                           members.push_back({MakeLocal(true), nullptr});
                           return std::move(*SpannedBlobStore::Open(std::move(members)));
                         }},
        BlobStoreFactory{
            "LimitedToOneOverMem",
            [] { return std::make_unique<LimitedBlobStore>(MemBlobStore::Make(), 1); }},
        BlobStoreFactory{
            "LimitedToThreeOverMem",
            [] { return std::make_unique<LimitedBlobStore>(MemBlobStore::Make(), 3); }}),
    BlobStoreFactoryName);

}  // namespace
}  // namespace halley::storage
