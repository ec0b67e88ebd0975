// SPDX-License-Identifier: Apache-2.0
#include "httpd/http.h"

#include <cctype>

#include "base/json.h"

namespace halley::httpd {

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

bool Request::IsWebSocketUpgrade() const {
  const auto contains = [](std::string_view value, std::string_view token) {
    std::string lower(value);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower.find(token) != std::string::npos;
  };
  return method == "GET" && contains(Header("upgrade"), "websocket") &&
         contains(Header("connection"), "upgrade");
}

Result<std::string> Request::ReadBody(size_t limit) {
  const auto too_big = [limit] {
    return Fail(ErrorCode::kInvalidArgument,
                "request body over " + std::to_string(limit) + " bytes");
  };
  if (content_length && *content_length > limit) return too_big();
  std::string out;
  out.reserve(content_length.value_or(0));
  uint8_t buf[64 * 1024];
  for (;;) {
    HALLEY_ASSIGN_OR_RETURN(size_t n, body->Read(MutableByteView(buf, sizeof buf)));
    if (n == 0) return out;
    if (out.size() + n > limit) return too_big();
    out.append(reinterpret_cast<const char*>(buf), n);
  }
}

Response& Response::SetHeader(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

Response Response::Message(int status, std::string_view message) {
  const halley::Json j = {{"Status", status}, {"Message", message}};
  return Json(j.dump(-1, ' ', false, halley::Json::error_handler_t::replace), status);
}

Response Response::Json(std::string json, int status) {
  Response r;
  r.status = status;
  r.body = std::move(json);
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  return r;
}

Response Response::Text(int status, std::string text) {
  Response r;
  r.status = status;
  r.body = std::move(text);
  r.SetHeader("Content-Type", "text/plain; charset=utf-8");
  return r;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      const int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Fail(ErrorCode::kInvalidArgument,
                    "malformed percent escape at byte " + std::to_string(i));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    const std::string_view pair = body.substr(pos, amp - pos);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      HALLEY_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, eq), true));
      std::string value;
      if (eq != std::string_view::npos) {
        HALLEY_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1), true));
      }
      out.emplace_back(std::move(name), std::move(value));
    }
    pos = amp + 1;
  }
  return out;
}

}  // namespace halley::httpd
