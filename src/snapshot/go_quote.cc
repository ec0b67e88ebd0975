// SPDX-License-Identifier: Apache-2.0
#include "snapshot/go_quote.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace halley::snapshot {
namespace {

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char32_t kRuneError = 0xfffd;

// Decodes one rune the way Go's utf8.DecodeRuneInString does: invalid input (bad lead or
// continuation byte, overlong form, surrogate, above U+10FFFF, truncation) yields
// (U+FFFD, width 1).
char32_t DecodeRune(std::string_view s, size_t i, size_t& width) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned c0 = b(i);
  width = 1;
  if (c0 < 0x80) return c0;
  if (c0 >= 0xc2 && c0 <= 0xdf && cont(i + 1)) {
    width = 2;
    return (c0 & 0x1f) << 6 | (b(i + 1) & 0x3f);
  }
  if (c0 >= 0xe0 && c0 <= 0xef && cont(i + 1) && cont(i + 2)) {
    char32_t cp = (c0 & 0x0f) << 12 | (b(i + 1) & 0x3f) << 6 | (b(i + 2) & 0x3f);
    if (cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) {
      width = 3;
      return cp;
    }
  } else if (c0 >= 0xf0 && c0 <= 0xf4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    char32_t cp =
        (c0 & 0x07) << 18 | (b(i + 1) & 0x3f) << 12 | (b(i + 2) & 0x3f) << 6 | (b(i + 3) & 0x3f);
    if (cp >= 0x10000 && cp <= 0x10ffff) {
      width = 4;
      return cp;
    }
  }
  return kRuneError;
}

void AppendRune(std::string& out, char32_t r) {
  if (r < 0x80) {
    out.push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (r >> 6)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else if (r < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (r >> 12)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (r >> 18)));
    out.push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3f)));
  }
}

bool ValidRune(char32_t r) { return r <= 0x10ffff && (r < 0xd800 || r > 0xdfff); }

struct RuneRange {
  char32_t first, last;
};

// Code points at or above U+0100 that Go's IsPrint rejects, sorted. Every assigned code point
// of categories Cc/Cf/Zs/Zl/Zp/Cs/Co as of Unicode 15, the noncharacters, and the large ranges
// that are unassigned in every Unicode version Go has shipped so far (13.0 in Go 1.19, 15.0
// since Go 1.21). Everything else, unassigned code points included, counts as printable.
constexpr RuneRange kNotPrint[] = {
    {0x0600, 0x0605},     // Arabic number signs (Cf)
    {0x061c, 0x061c},     // Arabic letter mark (Cf)
    {0x06dd, 0x06dd},     // Arabic end of ayah (Cf)
    {0x070f, 0x070f},     // Syriac abbreviation mark (Cf)
    {0x0890, 0x0891},     // Arabic pound/piastre mark above (Cf, Unicode 14)
    {0x08e2, 0x08e2},     // Arabic disputed end of ayah (Cf)
    {0x1680, 0x1680},     // Ogham space mark (Zs)
    {0x180e, 0x180e},     // Mongolian vowel separator (Cf)
    {0x2000, 0x200f},     // en quad .. hair space (Zs), ZWSP, ZWNJ, ZWJ, LRM, RLM (Cf)
    {0x2028, 0x202f},     // line/paragraph separator (Zl/Zp), bidi embeddings (Cf), NNBSP (Zs)
    {0x205f, 0x2064},     // medium math space (Zs), word joiner .. invisible plus (Cf)
    {0x2066, 0x206f},     // bidi isolates, deprecated format characters (Cf)
    {0x3000, 0x3000},     // ideographic space (Zs)
    {0xd800, 0xf8ff},     // surrogates (Cs), private use area (Co)
    {0xfdd0, 0xfdef},     // noncharacters
    {0xfeff, 0xfeff},     // zero width no-break space / BOM (Cf)
    {0xfff0, 0xfffb},     // unassigned, interlinear annotation (Cf)
    {0xfffe, 0xffff},     // noncharacters
    {0x110bd, 0x110bd},   // Kaithi number sign (Cf)
    {0x110cd, 0x110cd},   // Kaithi number sign above (Cf)
    {0x13430, 0x1343f},   // Egyptian hieroglyph format controls (Cf; 13439-1343F since 15)
    {0x1bca0, 0x1bca3},   // shorthand format controls (Cf)
    {0x1d173, 0x1d17a},   // musical symbol begin/end beam .. (Cf)
    {0x1fc00, 0x1ffff},   // unassigned, noncharacters
    {0x2fa1e, 0x2ffff},   // unassigned, noncharacters
    {0x323b0, 0xe00ff},   // unassigned planes 3-13, language tag and tag characters (Cf)
    {0xe01f0, 0x10ffff},  // unassigned, supplementary private use areas (Co), noncharacters
};

// Go's strconv.IsPrint (see the header for where this approximation can differ).
bool IsPrint(char32_t r) {
  if (r <= 0xff) {
    if (r >= 0x20 && r <= 0x7e) return true;
    if (r >= 0xa1 && r <= 0xff) return r != 0xad;
    return false;
  }
  auto it = std::upper_bound(std::begin(kNotPrint), std::end(kNotPrint), r,
                             [](char32_t v, const RuneRange& range) { return v < range.first; });
  if (it == std::begin(kNotPrint)) return true;
  --it;
  return r > it->last;
}

void AppendHexEscape(std::string& out, char kind, uint32_t v, int digits) {
  out.push_back('\\');
  out.push_back(kind);
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
    out.push_back(kLowerHex[(v >> shift) & 0xf]);
}

int Unhex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error SyntaxError(size_t pos, const char* what) {
  return Error(ErrorCode::kCorruption, std::string("invalid quoted name (") + what + " at byte " +
                                           std::to_string(pos) + ")");
}

}  // namespace

std::string GoQuoteName(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 8);
  size_t i = 0;
  while (i < raw.size()) {
    size_t width = 1;
    char32_t r = DecodeRune(raw, i, width);
    if (r == kRuneError && width == 1) {
      // An invalid byte (a correctly encoded U+FFFD has width 3 and is printable).
      AppendHexEscape(out, 'x', static_cast<unsigned char>(raw[i]), 2);
      ++i;
      continue;
    }
    i += width;
    if (r == '"' || r == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(r));
      continue;
    }
    if (IsPrint(r)) {
      AppendRune(out, r);
      continue;
    }
    switch (r) {
      case '\a':
        out.append("\\a");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\v':
        out.append("\\v");
        break;
      default:
        if (r < ' ' || r == 0x7f) {
          AppendHexEscape(out, 'x', r, 2);
        } else if (r < 0x10000) {
          AppendHexEscape(out, 'u', r, 4);
        } else {
          AppendHexEscape(out, 'U', r, 8);
        }
    }
  }
  return out;
}

Result<std::string> GoUnquoteName(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') return Fail(SyntaxError(i, "unescaped quote"));
    if (c == '\n') return Fail(SyntaxError(i, "unescaped newline"));
    if (static_cast<unsigned char>(c) >= 0x80) {
      // Go's UnquoteChar decodes the rune and re-encodes it, turning invalid bytes into U+FFFD.
      size_t width = 1;
      AppendRune(out, DecodeRune(s, i, width));
      i += width;
      continue;
    }
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return Fail(SyntaxError(i, "truncated escape"));
    char e = s[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        if (s.size() - i < n) return Fail(SyntaxError(i - 2, "truncated escape"));
        uint32_t v = 0;
        for (size_t k = 0; k < n; ++k) {
          int d = Unhex(s[i + k]);
          if (d < 0) return Fail(SyntaxError(i - 2, "bad hex digit"));
          v = v << 4 | static_cast<uint32_t>(d);
        }
        i += n;
        if (e == 'x') {
          out.push_back(static_cast<char>(v));  // a single byte, possibly not UTF-8
        } else {
          if (!ValidRune(v)) return Fail(SyntaxError(i - n - 2, "invalid code point"));
          AppendRune(out, v);
        }
        break;
      }
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        auto v = static_cast<uint32_t>(e - '0');
        if (s.size() - i < 2) return Fail(SyntaxError(i - 2, "truncated escape"));
        for (size_t k = 0; k < 2; ++k) {
          char d = s[i + k];
          if (d < '0' || d > '7') return Fail(SyntaxError(i - 2, "bad octal digit"));
          v = v << 3 | static_cast<uint32_t>(d - '0');
        }
        if (v > 255) return Fail(SyntaxError(i - 2, "octal escape above \\377"));
        i += 2;
        out.push_back(static_cast<char>(v));
        break;
      }
      default:
        return Fail(SyntaxError(i - 2, "unknown escape"));
    }
  }
  return out;
}

}  // namespace halley::snapshot
