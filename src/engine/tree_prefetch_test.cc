// SPDX-License-Identifier: Apache-2.0
#include "engine/tree_prefetch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "engine/snapshots.h"
#include "engine/vault_test_fixture.h"

namespace halley::engine {
namespace {

class TreePrefetchTest : public testing::VaultTest {
 protected:
  // Backs up 30 subdirectories and returns their trees' IDs, in name order.
  std::vector<Id> Subtrees() {
    for (int i = 0; i < 30; ++i) {
      const std::string dir = src_ + "/d" + std::to_string(100 + i);
      std::filesystem::create_directories(dir);
      std::ofstream(dir + "/f", std::ios::binary) << testing::RandomData(100 + i, i);
    }
    auto snap = FindSnapshot(*repo_, Snap().Hex());
    EXPECT_TRUE(snap);
    auto src = FindNode(*repo_, snap->snapshot.tree, src_);
    EXPECT_TRUE(src && src->subtree);
    auto tree = LoadTree(*repo_, *src->subtree);
    EXPECT_TRUE(tree);
    std::vector<Id> out;
    for (const auto& n : tree->nodes) {
      if (n.subtree) out.push_back(*n.subtree);
    }
    EXPECT_EQ(out.size(), 30u);
    return out;
  }
  std::string Encoded(const Result<snapshot::Tree>& t) {
    EXPECT_TRUE(t) << t.error().Message();
    return t ? *snapshot::EncodeTree(*t) : "";
  }
};

TEST_F(TreePrefetchTest, TakesWhatLoadTreeGivesOrNothing) {
  const std::vector<Id> ids = Subtrees();
  size_t prefetched = 0;
  for (int round = 0; round < 20; ++round) {
    TreePrefetcher p(*repo_, 1 << 20);
    for (const Id& id : ids) p.Want(id);
    for (const Id& id : ids) {
      // The walk's own work between two directories (none in the first rounds).
      std::this_thread::sleep_for(std::chrono::microseconds(100 * round));
      // Decoded ahead, being decoded (waited for), or not started (withdrawn: null).
      if (auto t = p.Take(id)) {
        EXPECT_EQ(Encoded(*t), Encoded(LoadTree(*repo_, id)));
        ++prefetched;
      }
      EXPECT_FALSE(p.Take(id)) << "taken twice";
    }
  }
  // Given time, the trees are decoded ahead.
  EXPECT_GT(prefetched, 0u);
  std::printf("%zu of 600 prefetched\n", prefetched);
}

TEST_F(TreePrefetchTest, NeverWantedOrOverTheBudgetIsNull) {
  const std::vector<Id> ids = Subtrees();
  TreePrefetcher none(*repo_, 1);  // no tree fits
  for (const Id& id : ids) none.Want(id);
  for (const Id& id : ids) EXPECT_FALSE(none.Take(id));
  TreePrefetcher p(*repo_, 1 << 20);
  EXPECT_FALSE(p.Take(ids[0]));
  p.Want(*Id::FromHex(std::string(64, '7')));  // not in the index: ignored
}

// Forget gives a tree's bytes back: with room for one tree, a forgotten want makes room for the
// next, which then arrives.
TEST_F(TreePrefetchTest, ForgetFreesTheBudget) {
  const std::vector<Id> ids = Subtrees();
  auto size = [&](const Id& id) {
    return repo_->GetIndex().Lookup(repo::BlobType::kTree, id)->PlainSize();
  };
  TreePrefetcher p(*repo_, std::max(size(ids[0]), size(ids[1])));
  p.Want(ids[0]);
  p.Forget(ids[0]);
  std::optional<Result<snapshot::Tree>> got;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!got && std::chrono::steady_clock::now() < until) {
    p.Want(ids[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    got = p.Take(ids[1]);  // null while not started: want it again
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(Encoded(*got), Encoded(LoadTree(*repo_, ids[1])));
}

}  // namespace
}  // namespace halley::engine
