// SPDX-License-Identifier: Apache-2.0
#include "crypto/random.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include "base/encoding.h"
#include "base/error.h"

namespace halley::crypto {
namespace {

// Incremented in the child after every fork(); a pool filled under another value is stale.
std::atomic<uint64_t> fork_generation{0};

void OnForkChild() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

void RandBytes(uint8_t* p, size_t n) {
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, size_t{1} << 30);  // RAND_bytes takes an int
    HALLEY_CHECK(RAND_bytes(p, static_cast<int>(chunk)) == 1);
    p += chunk;
    n -= chunk;
  }
}

class Pool {
 public:
  Pool() {
    // Registered before the first pool is filled, so no fork can copy a pool unnoticed.
    static const bool registered = pthread_atfork(nullptr, nullptr, &OnForkChild) == 0;
    HALLEY_CHECK(registered);
  }
  ~Pool() { SecureZero(bytes_.data(), bytes_.size()); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void Take(uint8_t* out, size_t n) {
    const uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (n > bytes_.size() - used_ || generation != generation_) {
      RandBytes(bytes_.data(), bytes_.size());  // overwrites any unused rest
      used_ = 0;
      generation_ = generation;
    }
    std::memcpy(out, bytes_.data() + used_, n);
    SecureZero(bytes_.data() + used_, n);
    used_ += n;
  }

 private:
  std::array<uint8_t, 4096> bytes_;
  size_t used_ = bytes_.size();  // starts empty
  uint64_t generation_ = 0;
};

}  // namespace

void RandomBytes(MutableByteView out) {
  if (out.empty()) return;
  if (out.size() > kPooledRandomMax) {
    RandBytes(out.data(), out.size());
    return;
  }
  thread_local Pool pool;
  pool.Take(out.data(), out.size());
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  RandomBytes(MutableByteView(out));
  return out;
}

std::string NewUuid() {
  std::string h = HexEncode(RandomBytes(16));
  h[12] = '4';
  h[16] = "89ab"[static_cast<unsigned char>(h[16]) % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

}  // namespace halley::crypto
