// SPDX-License-Identifier: Apache-2.0
//
// Exclude and include rules, as restic's --exclude and the product's EngineProps EXCLUDE*
// (globs) and REXCLUDE* (regular expressions).
//
// Glob semantics follow restic: a pattern is split at '/'; each component matches one path
// component with fnmatch(3) rules (*, ?, [...]), "**" matches any number of components. A pattern
// starting with '/' is anchored at the root; any other pattern may match at any depth. A pattern
// matches a path if it matches the path or one of its parent directories, so excluding a
// directory excludes everything below it. A regex matches if it is found anywhere in the
// absolute path (ECMAScript syntax, close to the RE2 syntax the product documents).
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "base/error.h"

namespace halley::engine {

class GlobPattern {
 public:
  static Result<GlobPattern> Parse(const std::string& pattern);
  // True if the pattern matches `path` (absolute, '/'-separated) or a parent of it.
  bool Matches(const std::string& path) const;
  // True if the pattern could match `path` itself or something beneath it (for includes:
  // whether a directory must be entered).
  bool MayMatchBeneath(const std::string& path) const;
  const std::string& Text() const { return text_; }

 private:
  std::string text_;
  bool anchored_ = false;
  std::vector<std::string> parts_;  // "**" kept as is
};

class Filter {
 public:
  Result<void> AddExcludeGlob(const std::string& pattern);
  Result<void> AddExcludeRegex(const std::string& pattern);
  // Reads an exclude file: one glob per line, '#' comments and blank lines ignored.
  Result<void> AddExcludeFile(const std::string& path);

  bool Excluded(const std::string& abs_path) const;
  std::vector<std::string> ExcludeTexts() const;  // for the snapshot's "excludes"

 private:
  std::vector<GlobPattern> globs_;
  std::vector<std::pair<std::string, std::regex>> regexes_;
};

}  // namespace halley::engine
