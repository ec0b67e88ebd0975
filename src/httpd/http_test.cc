// SPDX-License-Identifier: Apache-2.0
#include "httpd/http.h"

#include <gtest/gtest.h>

namespace halley::httpd {
namespace {

TEST(PercentDecode, DecodesEscapesAndPlus) {
  EXPECT_EQ(*PercentDecode("a%20b+c%2Bd", true), "a b c+d");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(*PercentDecode("%e2%82%AC", false), "\xe2\x82\xac");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
  for (const char* bad : {"%", "%4", "%zz", "a%g0"}) {
    auto r = PercentDecode(bad, true);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ParseForm, KeepsOrderEmptyValuesAndEncodedSeparators) {
  auto form = ParseForm("Username=admin&AuthType=Password&Password=p%26ss%3Dw&&Flag&Empty=");
  ASSERT_TRUE(form);
  ASSERT_EQ(form->size(), 5u);
  EXPECT_EQ((*form)[0], (std::pair<std::string, std::string>("Username", "admin")));
  EXPECT_EQ((*form)[2].second, "p&ss=w");
  EXPECT_EQ((*form)[3], (std::pair<std::string, std::string>("Flag", "")));
  EXPECT_EQ((*form)[4], (std::pair<std::string, std::string>("Empty", "")));
  EXPECT_TRUE(ParseForm("")->empty());
  EXPECT_FALSE(ParseForm("a=%x1"));
}

TEST(Response, MessageHasTheProductShape) {
  Response r = Response::Message(403, "Access \"denied\"");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, R"({"Message":"Access \"denied\"","Status":403})");
}

}  // namespace
}  // namespace halley::httpd
