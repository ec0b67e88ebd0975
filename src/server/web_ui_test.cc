// SPDX-License-Identifier: Apache-2.0
#include "server/web_ui.h"

#include <gtest/gtest.h>

#include <string>

namespace halley::server {
namespace {

httpd::Request Get(std::string path, std::string method = "GET") {
  httpd::Request req;
  req.method = std::move(method);
  req.target = path;
  req.path = std::move(path);
  return req;
}

std::string HeaderOf(const httpd::Response& res, std::string_view name) {
  for (const auto& [n, v] : res.headers) {
    if (n == name) return v;
  }
  return "";
}

void ExpectSecurityHeaders(const httpd::Response& res) {
  EXPECT_EQ(HeaderOf(res, "Content-Security-Policy"),
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  EXPECT_EQ(HeaderOf(res, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderOf(res, "X-Frame-Options"), "DENY");
  EXPECT_EQ(HeaderOf(res, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(HeaderOf(res, "Cache-Control"), "no-cache");
}

TEST(WebUiTest, ServesThePageAtTheRoot) {
  const httpd::Response res = ServeWebUi(Get("/"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(HeaderOf(res, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(res.body.find("<script type=\"module\" src=\"/web/app.js\">"), std::string::npos);
  ExpectSecurityHeaders(res);
  EXPECT_EQ(ServeWebUi(Get("/web/")).body, res.body);
  EXPECT_EQ(ServeWebUi(Get("/web/index.html")).body, res.body);
}

TEST(WebUiTest, ServesEveryEmbeddedFileWithItsType) {
  ASSERT_FALSE(EmbeddedFiles().empty());
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    const httpd::Response res = ServeWebUi(Get("/web/" + std::string(f.name)));
    EXPECT_EQ(res.status, 200) << f.name;
    EXPECT_EQ(res.body.size(), f.size) << f.name;
    EXPECT_NE(HeaderOf(res, "Content-Type"), "application/octet-stream") << f.name;
    if (f.name.ends_with(".js")) {
      EXPECT_EQ(HeaderOf(res, "Content-Type"), "text/javascript; charset=utf-8");
    }
    ExpectSecurityHeaders(res);
  }
}

TEST(WebUiTest, HeadAnswersLikeGet) {
  const httpd::Response res = ServeWebUi(Get("/web/app.css", "HEAD"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(HeaderOf(res, "Content-Type"), "text/css; charset=utf-8");
}

TEST(WebUiTest, OtherMethodsGet405) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const httpd::Response res = ServeWebUi(Get("/", method));
    EXPECT_EQ(res.status, 405) << method;
    EXPECT_EQ(HeaderOf(res, "Allow"), "GET, HEAD");
    ExpectSecurityHeaders(res);
  }
}

TEST(WebUiTest, UnknownAndTraversingNamesGet404) {
  for (const char* path :
       {"/web/halleyd.cfg", "/web/../halleyd.cfg", "/web/%2e%2e/halleyd.cfg", "/web//etc/passwd",
        "/web/..%2fhalleyd.cfg", "/web/./app.js", "/web/app.js/", "/web/APP.JS", "/web/..\\app.js",
        "/index.html", "/web"}) {
    const httpd::Response res = ServeWebUi(Get(path));
    EXPECT_EQ(res.status, 404) << path;
    ExpectSecurityHeaders(res);
  }
}

}  // namespace
}  // namespace halley::server
