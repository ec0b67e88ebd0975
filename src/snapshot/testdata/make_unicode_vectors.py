#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Writes unicode_print.txt: every code point assigned in Python's Unicode database (14.0 for
# Python 3.11), as ranges "FIRST LAST P|N" (hex), P when Go's unicode.IsPrint holds (categories
# L, M, N, P, S and U+0020), N otherwise. Unassigned code points (Cn) and surrogates (which
# cannot be encoded) are left out. go_quote_test.cc checks GoQuoteName against every entry.
import os
import unicodedata

PRINT = set("L M N P S".split())
out = []
for cp in range(0x110000):
    cat = unicodedata.category(chr(cp))
    if cat in ("Cn", "Cs"):
        continue
    flag = "P" if cat[0] in PRINT or cp == 0x20 else "N"
    if out and out[-1][1] == cp - 1 and out[-1][2] == flag:
        out[-1][1] = cp
    else:
        out.append([cp, cp, flag])
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unicode_print.txt")
with open(path, "w") as f:
    f.write(f"# Unicode {unicodedata.unidata_version}: assigned code points, P = Go IsPrint\n")
    for first, last, flag in out:
        f.write(f"{first:04X} {last:04X} {flag}\n")
