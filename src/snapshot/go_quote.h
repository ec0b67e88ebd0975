// SPDX-License-Identifier: Apache-2.0
//
// Go's strconv.Quote / strconv.Unquote for node names. restic stores a node's name as
// strconv.Quote(name) without the outer quotes, so that any byte string (file names need not be
// UTF-8) survives encoding/json, which would otherwise replace invalid bytes with U+FFFD. Tree
// blobs deduplicate with restic only if we produce exactly the same escapes.
//
// GoQuoteName matches Go exactly for ASCII, for invalid UTF-8 and for every code point assigned
// in Unicode 14 (the test checks them all against Python's unicodedata). Go decides "printable"
// from its own Unicode tables (unicode.IsPrint: categories L, M, N, P, S and U+0020), which we do
// not ship; instead every code point is printable except the non-printable assigned ones (Cc, Cf,
// Zs, Zl, Zp, Co), the noncharacters and a few large unassigned ranges. Differences remain for
// other unassigned code points (Go escapes them as \uXXXX / \UXXXXXXXX, we copy them) and for
// characters whose assignment differs between Unicode versions: restic 0.14 (Go 1.19, Unicode 13)
// escapes characters added in Unicode 14 and 15, newer restic (Unicode 15) and we do not. Either
// way names still round-trip, because GoUnquoteName accepts every form Go produces.
//
// Both functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace halley::snapshot {

// strconv.Quote(raw) without the surrounding double quotes.
std::string GoQuoteName(std::string_view raw);

// strconv.Unquote("\"" + quoted + "\""): the inverse of GoQuoteName. Accepts every escape Go
// accepts (\a \b \f \n \r \t \v \\ \" \xNN \NNN octal \uXXXX \UXXXXXXXX); like Go, raw bytes
// that are not valid UTF-8 decode to U+FFFD. Returns kCorruption for an unescaped '"' or
// newline, an unknown or truncated escape, or a \u/\U escape that is not a valid code point.
Result<std::string> GoUnquoteName(std::string_view quoted);

}  // namespace halley::snapshot
