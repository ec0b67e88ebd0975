// SPDX-License-Identifier: Apache-2.0
#include "base/bytes.h"

#include <string.h>

namespace halley {

void SecureZero(void* p, size_t n) { explicit_bzero(p, n); }

}  // namespace halley
