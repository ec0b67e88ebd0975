// SPDX-License-Identifier: Apache-2.0
#include "server/web_ui.h"

#include <string>
#include <utility>

namespace halley::server {
namespace {

using httpd::Response;

constexpr std::pair<std::string_view, std::string_view> kContentTypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json; charset=utf-8"},
    {".txt", "text/plain; charset=utf-8"},
};

std::string_view ContentType(std::string_view name) {
  for (const auto& [suffix, type] : kContentTypes) {
    if (name.ends_with(suffix)) return type;
  }
  return "application/octet-stream";
}

// On every answer, errors included. The UI has no inline script or style and loads nothing
// from elsewhere, so 'self' is all it needs; it is never framed (clickjacking) and sends no
// Referer (the URL may name users).
Response WithSecurityHeaders(Response r) {
  r.SetHeader("Content-Security-Policy",
              "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("X-Frame-Options", "DENY");
  r.SetHeader("Referrer-Policy", "no-referrer");
  r.SetHeader("Cache-Control", "no-cache");
  return r;
}

const EmbeddedFile* Find(std::string_view name) {
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

Response ServeWebUi(const httpd::Request& req) {
  const std::string_view path = req.path;
  std::string_view name;
  if (path == "/" || path == "/web/") {
    name = "index.html";
  } else if (path.starts_with("/web/")) {
    name = path.substr(5);
  } else {
    return WithSecurityHeaders(Response::Text(404, "Not found\n"));
  }
  if (req.method != "GET" && req.method != "HEAD") {
    Response r = Response::Text(405, "Method not allowed\n");
    r.SetHeader("Allow", "GET, HEAD");
    return WithSecurityHeaders(std::move(r));
  }
  // An exact lookup among the embedded names: "..", "%2e%2e", "//" or "\" match nothing.
  const EmbeddedFile* file = Find(name);
  if (!file) return WithSecurityHeaders(Response::Text(404, "Not found\n"));
  Response r;
  r.SetHeader("Content-Type", std::string(ContentType(file->name)));
  // The server sends no body for HEAD, only this body's Content-Length.
  r.body.assign(reinterpret_cast<const char*>(file->data), file->size);
  return WithSecurityHeaders(std::move(r));
}

}  // namespace halley::server
