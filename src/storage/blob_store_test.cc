// SPDX-License-Identifier: Apache-2.0
#include "storage/blob_store.h"

#include <gtest/gtest.h>

#include <string>

namespace halley::storage {
namespace {

const std::string kName = "3fa2c1d0" + std::string(56, 'e');

TEST(ObjectHandleTest, PathsFollowResticLayout) {
  EXPECT_EQ((ObjectHandle{ObjectType::kData, kName}.Path()), "data/3f/" + kName);
  EXPECT_EQ((ObjectHandle{ObjectType::kKey, kName}.Path()), "keys/" + kName);
  EXPECT_EQ((ObjectHandle{ObjectType::kLock, kName}.Path()), "locks/" + kName);
  EXPECT_EQ((ObjectHandle{ObjectType::kSnapshot, kName}.Path()), "snapshots/" + kName);
  EXPECT_EQ((ObjectHandle{ObjectType::kIndex, kName}.Path()), "index/" + kName);
  EXPECT_EQ((ObjectHandle{ObjectType::kPackIndex, kName}.Path()), "packindex/" + kName);
  EXPECT_EQ(ObjectHandle::Config().Path(), "config");
  EXPECT_EQ(ObjectTypeDir(ObjectType::kConfig), "");
}

TEST(ValidateHandleTest, AcceptsOnlyLowerHexNamesAndConfig) {
  EXPECT_TRUE(ValidateHandle({ObjectType::kData, kName}));
  EXPECT_TRUE(ValidateHandle(ObjectHandle::Config()));
  const ObjectHandle bad[] = {
      {ObjectType::kData, "config"},
      {ObjectType::kData, kName.substr(1)},
      {ObjectType::kData, kName + "0"},
      {ObjectType::kData, "3FA2" + kName.substr(4)},
      {ObjectType::kIndex, "../" + kName.substr(3)},
      {ObjectType::kConfig, kName},
      {ObjectType::kConfig, "config/"},
  };
  for (const ObjectHandle& h : bad) {
    auto r = ValidateHandle(h);
    ASSERT_FALSE(r) << h.name;
    EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument) << h.name;
  }
}

}  // namespace
}  // namespace halley::storage
