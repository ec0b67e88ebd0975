// SPDX-License-Identifier: Apache-2.0
#include "engine/filter.h"

#include <fnmatch.h>

#include <fstream>

#include "engine/snapshots.h"

namespace halley::engine {
namespace {

bool MatchParts(const std::vector<std::string>& pat, size_t pi, const std::vector<std::string>& s,
                size_t si, bool prefix_ok) {
  // prefix_ok: the pattern may end before the path does (a parent matched).
  while (pi < pat.size()) {
    if (pat[pi] == "**") {
      for (size_t k = si; k <= s.size(); ++k) {
        if (MatchParts(pat, pi + 1, s, k, prefix_ok)) return true;
      }
      return false;
    }
    if (si >= s.size()) return false;
    if (::fnmatch(pat[pi].c_str(), s[si].c_str(), 0) != 0) return false;
    ++pi;
    ++si;
  }
  return prefix_ok || si == s.size();
}

// Whether the pattern can still match once more components are appended to `s`.
bool CouldMatchLater(const std::vector<std::string>& pat, size_t pi,
                     const std::vector<std::string>& s, size_t si) {
  while (si < s.size()) {
    if (pi >= pat.size()) return false;
    if (pat[pi] == "**") return true;
    if (::fnmatch(pat[pi].c_str(), s[si].c_str(), 0) != 0) return false;
    ++pi;
    ++si;
  }
  return true;
}

}  // namespace

Result<GlobPattern> GlobPattern::Parse(const std::string& pattern) {
  if (pattern.empty()) return Fail(ErrorCode::kInvalidArgument, "empty pattern");
  GlobPattern p;
  p.text_ = pattern;
  p.anchored_ = pattern[0] == '/';
  p.parts_ = SplitPath(pattern);
  if (p.parts_.empty())
    return Fail(ErrorCode::kInvalidArgument, "pattern \"/\" matches everything");
  return p;
}

bool GlobPattern::Matches(const std::string& path) const {
  auto s = SplitPath(path);
  if (anchored_) return MatchParts(parts_, 0, s, 0, true);
  for (size_t start = 0; start < s.size(); ++start) {
    if (MatchParts(parts_, 0, s, start, true)) return true;
  }
  return false;
}

bool GlobPattern::MayMatchBeneath(const std::string& path) const {
  if (!anchored_) return true;
  if (Matches(path)) return true;
  return CouldMatchLater(parts_, 0, SplitPath(path), 0);
}

Result<void> Filter::AddExcludeGlob(const std::string& pattern) {
  HALLEY_ASSIGN_OR_RETURN(GlobPattern p, GlobPattern::Parse(pattern));
  globs_.push_back(std::move(p));
  return {};
}

Result<void> Filter::AddExcludeRegex(const std::string& pattern) {
  try {
    regexes_.emplace_back(pattern, std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid regular expression \"" + pattern + "\": " + e.what());
  }
  return {};
}

Result<void> Filter::AddExcludeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kNotFound, "cannot read exclude file " + path);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] == '#') continue;
    HALLEY_RETURN_IF_ERROR(AddExcludeGlob(line.substr(start)));
  }
  return {};
}

bool Filter::Excluded(const std::string& abs_path) const {
  for (const auto& g : globs_) {
    if (g.Matches(abs_path)) return true;
  }
  for (const auto& [text, re] : regexes_) {
    if (std::regex_search(abs_path, re)) return true;
  }
  return false;
}

std::vector<std::string> Filter::ExcludeTexts() const {
  std::vector<std::string> out;
  for (const auto& g : globs_) out.push_back(g.Text());
  for (const auto& [text, re] : regexes_) out.push_back("regex:" + text);
  return out;
}

}  // namespace halley::engine
