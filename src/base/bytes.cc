// SPDX-License-Identifier: Apache-2.0
#include "base/bytes.h"

#include <string.h>

namespace halley {

void SecureZero(void* p, size_t n) {
  if (n == 0) return;  // an empty buffer's data() may be null, which explicit_bzero must not get
  explicit_bzero(p, n);
}

}  // namespace halley
