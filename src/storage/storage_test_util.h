// SPDX-License-Identifier: Apache-2.0
//
// Test-only helpers for BlobStore tests (includes gtest; never include from library code):
// deterministic random data and object names, a listing helper, and base/test_util.h's
// Succeeds, FailsWith and TempDir under this namespace.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/test_util.h"
#include "storage/blob_store.h"

namespace halley::storage::testutil {

// The value of environment variable `name`, set by the script `runner` that starts the
// servers a test binary needs; aborts, saying so, when it is missing.
inline std::string RequiredEnv(const char* name, const char* runner) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr, "%s is not set: run this test through %s\n", name, runner);
    std::abort();
  }
  return v;
}

// Compares buffers without printing megabytes on failure.
inline ::testing::AssertionResult SameBytes(ByteView got, ByteView want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << ", want " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      return ::testing::AssertionFailure()
             << "first difference at byte " << i << " of " << got.size();
    }
  }
  return ::testing::AssertionSuccess();
}

inline Bytes RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j) out[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return out;
}

// 64 lower-case hex digits, starting with `prefix`.
inline std::string RandomName(std::mt19937_64& rng, std::string_view prefix = "") {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name(prefix);
  while (name.size() < 64) name.push_back(kHex[rng() % 16]);
  return name;
}

// Lists `type` into name -> size; a name listed twice is an error.
inline Result<std::map<std::string, uint64_t>> ListAll(BlobStore& store, ObjectType type) {
  std::map<std::string, uint64_t> out;
  HALLEY_RETURN_IF_ERROR(store.List(type, [&](const ObjectInfo& info) -> Result<void> {
    if (!out.emplace(info.name, info.size).second) {
      return Fail(ErrorCode::kCorruption, "listed twice: " + info.name);
    }
    return {};
  }));
  return out;
}

using ::halley::testutil::FailsWith;
using ::halley::testutil::Succeeds;
using ::halley::testutil::TempDir;

}  // namespace halley::storage::testutil
