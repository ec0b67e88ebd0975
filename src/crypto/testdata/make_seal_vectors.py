#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates the known-answer vectors of seal_test.cc without using halley's code:
#   ct  = `openssl enc -aes-256-ctr -K <encrypt> -iv <iv> -nopad`, cross-checked against
#         AES-256-ECB of counter blocks computed here as Python integers (iv + i) mod 2^128,
#         so OpenSSL's counter handling is not taken on trust;
#   s   = `openssl enc -aes-128-ecb -K <mac_k> -nopad` of the IV;
#   tag = Poly1305 in pure Python (RFC 8439 §2.5.1), keyed clamp(mac_r) || s.
# Needs only python3 and the openssl command line.
import subprocess


def openssl(args, data):
    return subprocess.run(['openssl', 'enc'] + args, input=data, capture_output=True,
                          check=True).stdout


def ctr(key, iv, pt):
    return openssl(['-aes-256-ctr', '-K', key.hex(), '-iv', iv.hex(), '-nopad'], pt)


def ecb(key, blocks):
    return openssl(['-aes-%d-ecb' % (8 * len(key)), '-K', key.hex(), '-nopad'], blocks)


def ctr_by_hand(key, iv, pt):
    c = int.from_bytes(iv, 'big')
    blocks = b''.join(((c + i) % (1 << 128)).to_bytes(16, 'big')
                      for i in range((len(pt) + 15) // 16))
    return bytes(a ^ b for a, b in zip(pt, ecb(key, blocks)))


def poly1305(key32, msg):
    r = int.from_bytes(key32[:16], 'little') & 0x0ffffffc0ffffffc0ffffffc0fffffff
    s = int.from_bytes(key32[16:], 'little')
    p, acc = (1 << 130) - 5, 0
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b'\x01', 'little')) * r % p
    return ((acc + s) % (1 << 128)).to_bytes(16, 'little')


def seal(enc, mac_k, mac_r, iv, pt):
    ct = ctr(enc, iv, pt)
    assert ct == ctr_by_hand(enc, iv, pt)
    return iv + ct + poly1305(mac_r + ecb(mac_k, iv), ct)


assert poly1305(bytes.fromhex('85d6be7857556d337f4452fe42d506a8'
                              '0103808afb0db2fd4abff6af4149f51b'),
                b'Cryptographic Forum Research Group').hex() == 'a8061dc1305136c6c22b8baf0c0127a9'

enc, mac_k, mac_r = bytes(range(0x00, 0x20)), bytes(range(0x20, 0x30)), bytes(range(0xf0, 0x100))
pt = bytes((i * 7 + 3) & 0xff for i in range(100))
for iv in ['0011223344556677fffffffffffffffe', 'fffffffffffffffffffffffffffffffe',
           '0102030405060708090a0b0cfffffffe']:
    print(iv, seal(enc, mac_k, mac_r, bytes.fromhex(iv), pt).hex())
print('empty', seal(enc, mac_k, mac_r, bytes(range(0x40, 0x50)), b'').hex())
