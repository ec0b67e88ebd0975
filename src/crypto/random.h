// SPDX-License-Identifier: Apache-2.0
//
// Cryptographically secure random bytes from OpenSSL's CSPRNG (RAND_bytes, seeded from the
// kernel). Thread-safe. A CSPRNG failure is not an expected condition and aborts the process
// through HALLEY_CHECK: continuing with predictable keys or IVs would be worse than stopping.
//
// Requests of up to kPooledRandomMax bytes (IVs, nonces, salts, keys) are served from a
// per-thread pool refilled 4 KiB at a time: every RAND_bytes call makes a getpid() system call
// for OpenSSL's fork check, which costs 3-5 µs on the virtual machines we measure on, more than
// sealing a 4 KiB blob. Bytes are wiped from the pool as they are handed out, and a child process
// created by fork() discards its inherited pool, so parent and child never share output.
#pragma once

#include <cstddef>
#include <string>

#include "base/bytes.h"

namespace halley::crypto {

inline constexpr size_t kPooledRandomMax = 64;

// Fills `out` with random bytes.
void RandomBytes(MutableByteView out);

// Returns `n` random bytes.
Bytes RandomBytes(size_t n);

// A random (version 4) UUID in its lower-case text form, for IDs of profile entries and jobs.
std::string NewUuid();

}  // namespace halley::crypto
