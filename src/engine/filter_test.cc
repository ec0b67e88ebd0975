// SPDX-License-Identifier: Apache-2.0
#include "engine/filter.h"

#include <gtest/gtest.h>

namespace halley::engine {
namespace {

bool Match(const std::string& pattern, const std::string& path) {
  auto p = GlobPattern::Parse(pattern);
  EXPECT_TRUE(p) << pattern;
  return p->Matches(path);
}

TEST(GlobTest, ResticSemantics) {
  // Relative patterns match at any depth, and a match of a parent matches its children.
  EXPECT_TRUE(Match("*.log", "/var/log/syslog.log"));
  EXPECT_TRUE(Match("foo", "/home/user/foo"));
  EXPECT_TRUE(Match("foo", "/home/user/foo/bar/test.go"));
  EXPECT_FALSE(Match("foo", "/home/user/foobar"));
  EXPECT_TRUE(Match("user/foo", "/home/user/foo/x"));
  EXPECT_FALSE(Match("user/foo", "/home/other/foo"));
  // Absolute patterns are anchored.
  EXPECT_TRUE(Match("/home/user", "/home/user/foo"));
  EXPECT_FALSE(Match("/user", "/home/user"));
  EXPECT_TRUE(Match("/home/*/cache", "/home/bob/cache/x"));
  // ** spans components.
  EXPECT_TRUE(Match("/home/**/*.tmp", "/home/a/b/c/x.tmp"));
  EXPECT_TRUE(Match("/home/**/*.tmp", "/home/x.tmp"));
  EXPECT_FALSE(Match("/home/**/*.tmp", "/var/x.tmp"));
  EXPECT_TRUE(Match("[ab]?c", "/x/bzc"));
  EXPECT_FALSE(GlobPattern::Parse(""));
}

TEST(GlobTest, MayMatchBeneath) {
  auto p = *GlobPattern::Parse("/home/bob/docs/*.txt");
  EXPECT_TRUE(p.MayMatchBeneath("/home"));
  EXPECT_TRUE(p.MayMatchBeneath("/home/bob/docs"));
  EXPECT_FALSE(p.MayMatchBeneath("/home/alice"));
  EXPECT_TRUE(GlobPattern::Parse("x")->MayMatchBeneath("/anything"));
}

TEST(FilterTest, GlobsRegexesAndDescriptions) {
  Filter f;
  ASSERT_TRUE(f.AddExcludeGlob("*.o"));
  ASSERT_TRUE(f.AddExcludeRegex("/cache/[0-9]+$"));
  EXPECT_TRUE(f.Excluded("/src/a.o"));
  EXPECT_TRUE(f.Excluded("/var/cache/123"));
  EXPECT_FALSE(f.Excluded("/var/cache/123a"));
  EXPECT_FALSE(f.Excluded("/src/a.c"));
  EXPECT_EQ(f.AddExcludeRegex("(").error().Code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(f.ExcludeTexts(), (std::vector<std::string>{"*.o", "regex:/cache/[0-9]+$"}));
}

}  // namespace
}  // namespace halley::engine
