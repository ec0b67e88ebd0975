// SPDX-License-Identifier: Apache-2.0
#include "httpclient/aws_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <utility>
#include <vector>

#include "base/encoding.h"

namespace halley::httpclient {
namespace {

Bytes Digest(const EVP_MD* md, ByteView data) {
  Bytes out(EVP_MD_size(md));
  unsigned int len = 0;
  HALLEY_CHECK(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) == 1);
  out.resize(len);
  return out;
}

Bytes HmacSha256(ByteView key, std::string_view data) {
  Bytes out(32);
  unsigned int len = 0;
  HALLEY_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                    reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
                    &len) != nullptr &&
               len == out.size());
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Header values are signed trimmed, with runs of spaces folded to one.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    params.emplace_back(std::string(param.substr(0, eq)),
                        eq == std::string_view::npos ? "" : std::string(param.substr(eq + 1)));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += k + "=" + v;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~' || (c == '/' && !encode_slash);
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::string Sha256Hex(ByteView data) { return HexEncode(Digest(EVP_sha256(), data)); }

Bytes Md5(ByteView data) { return Digest(EVP_md5(), data); }

Result<void> SignAwsV4(Request& req, const AwsCredentials& creds, std::string_view region,
                       std::string_view service, std::string_view payload_sha256,
                       std::chrono::system_clock::time_point now) {
  std::string_view url = req.url;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos ||
      (url.substr(0, scheme_end) != "http" && url.substr(0, scheme_end) != "https")) {
    return Fail(ErrorCode::kInvalidArgument, "cannot sign a request to " + RedactUrl(url));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t path_start = std::min(rest.find_first_of("/?"), rest.size());
  const std::string_view host = rest.substr(0, path_start);
  if (host.empty() || host.find('@') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "cannot sign a request to " + RedactUrl(url));
  }
  rest = rest.substr(path_start);
  const size_t q = rest.find('?');
  std::string path(rest.substr(0, q));
  if (path.empty()) path = "/";
  const std::string_view query = q == std::string_view::npos ? "" : rest.substr(q + 1);

  const time_t secs = std::chrono::system_clock::to_time_t(now);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char stamp[17];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const std::string amz_date(stamp);
  const std::string date = amz_date.substr(0, 8);

  // A request signed again (a retry) replaces what the last signature added.
  std::erase_if(req.headers, [](const auto& h) {
    const std::string n = Lower(h.first);
    return n == "host" || n == "authorization" || n == "x-amz-date" ||
           n == "x-amz-content-sha256" || n == "x-amz-security-token";
  });
  req.headers.emplace_back("Host", std::string(host));
  req.headers.emplace_back("x-amz-date", amz_date);
  req.headers.emplace_back("x-amz-content-sha256", std::string(payload_sha256));
  if (!creds.session_token.empty()) {
    req.headers.emplace_back("x-amz-security-token", creds.session_token);
  }

  std::vector<std::pair<std::string, std::string>> canonical;
  for (const auto& [name, value] : req.headers) {
    canonical.emplace_back(Lower(name), CanonicalValue(value));
  }
  std::sort(canonical.begin(), canonical.end());
  std::string headers, signed_headers;
  for (const auto& [name, value] : canonical) {
    headers += name + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += name;
  }
  const std::string canonical_request = req.method + "\n" + path + "\n" + CanonicalQuery(query) +
                                        "\n" + headers + "\n" + signed_headers + "\n" +
                                        std::string(payload_sha256);
  const std::string scope =
      date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + Sha256Hex(AsBytes(canonical_request));

  std::string secret = "AWS4" + creds.secret_access_key;
  Bytes key = HmacSha256(AsBytes(secret), date);
  SecureZero(secret.data(), secret.size());
  for (std::string_view part : {region, service, std::string_view("aws4_request")}) {
    Bytes next = HmacSha256(key, part);
    SecureZero(key.data(), key.size());
    key = std::move(next);
  }
  const std::string signature = HexEncode(HmacSha256(key, string_to_sign));
  SecureZero(key.data(), key.size());
  req.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id +
                                                "/" + scope + ", SignedHeaders=" + signed_headers +
                                                ", Signature=" + signature);
  return {};
}

}  // namespace halley::httpclient
