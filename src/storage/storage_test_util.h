// SPDX-License-Identifier: Apache-2.0
//
// Test-only helpers for BlobStore tests (includes gtest; never include from library code):
// gtest assertions on Result, deterministic random data and object names, a listing helper,
// and TempDir, a scratch directory removed with everything in it when the test ends.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <string_view>

#include "base/error.h"
#include "storage/blob_store.h"

namespace halley::storage::testutil {

// EXPECT_TRUE(Succeeds(store.Put(h, data)));
template <class T>
::testing::AssertionResult Succeeds(const Result<T>& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with " << ErrorCodeName(r.error().Code()) << ": " << r.error().Message();
}

// EXPECT_TRUE(FailsWith(store.Get(h), ErrorCode::kNotFound));
template <class T>
::testing::AssertionResult FailsWith(const Result<T>& r, ErrorCode code) {
  if (r) return ::testing::AssertionFailure() << "succeeded, expected " << ErrorCodeName(code);
  if (r.error().Code() != code) {
    return ::testing::AssertionFailure()
           << "failed with " << ErrorCodeName(r.error().Code()) << " (" << r.error().Message()
           << "), expected " << ErrorCodeName(code);
  }
  return ::testing::AssertionSuccess();
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

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction even where a
// test made parts of it read-only.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/halley-storage-test-XXXXXX";
    HALLEY_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    ::chmod(path_.c_str(), 0700);
    for (auto it = fs::recursive_directory_iterator(path_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
    }
    fs::remove_all(path_, ec);
  }

  const std::string& Path() const { return path_; }
  std::string Sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace halley::storage::testutil
