#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Checks that the real restic (Debian's 0.14.0) reads a tree blob we encoded:
# halley/tree.json (golden_test.cc asserts that EncodeTree produces exactly these bytes). It makes
# a fresh repository, backs up a file holding "hello world\n" (the data blob the tree's "a-file"
# refers to), stores halley/tree.json as a tree blob with a snapshot pointing at it, then runs
# `restic check --read-data`, `restic ls -l` and `restic restore`. Needs restic, zstd and
# python3-cryptography; run as root so that the setuid bit and xattrs restore.
#
#   python3 src/snapshot/testdata/check_restic_reads.py
import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = "/tmp/halley-snapshot-readcheck"
REPO = WORK + "/repo"
ENV = dict(os.environ, RESTIC_PASSWORD="x", RESTIC_REPOSITORY=REPO,
           RESTIC_CACHE_DIR=WORK + "/cache")


def restic(*args):
    return subprocess.run(["restic", *args], env=ENV, check=True, stdout=subprocess.PIPE).stdout


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK + "/src")
    with open(WORK + "/src/hello", "wb") as f:
        f.write(b"hello world\n")
    restic("init")
    restic("backup", WORK + "/src")

    mk = json.loads(restic("cat", "masterkey"))
    enc = base64.b64decode(mk["encrypt"])
    mac_k, mac_r = base64.b64decode(mk["mac"]["k"]), base64.b64decode(mk["mac"]["r"])

    def seal(plain):  # restic's AES-256-CTR + Poly1305-AES
        iv = os.urandom(16)
        ct = Cipher(algorithms.AES(enc), modes.CTR(iv)).encryptor().update(plain)
        ecb = Cipher(algorithms.AES(mac_k), modes.ECB()).encryptor()
        s = ecb.update(iv) + ecb.finalize()
        return iv + ct + Poly1305.generate_tag(mac_r + s, ct)

    def store(directory, data, shard=False):
        name = hashlib.sha256(data).hexdigest()
        d = os.path.join(REPO, directory, name[:2] if shard else "")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        return name

    with open(os.path.join(HERE, "halley", "tree.json"), "rb") as f:
        tree = f.read()
    tree_id = hashlib.sha256(tree).hexdigest()
    blob = seal(zstd(tree))
    header = seal(struct.pack("<BII", 3, len(blob), len(tree)) + bytes.fromhex(tree_id))
    pack_id = store("data", blob + header + struct.pack("<I", len(header)), shard=True)
    index = {"packs": [{"id": pack_id, "blobs": [{"id": tree_id, "type": "tree", "offset": 0,
                                                  "length": len(blob),
                                                  "uncompressed_length": len(tree)}]}]}
    store("index", seal(b"\x02" + zstd(json.dumps(index).encode())))
    snap = {"time": "2026-11-26T09:00:00+01:00", "tree": tree_id, "paths": ["/halley"],
            "hostname": "halley", "username": "root"}
    snap_id = store("snapshots", seal(b"\x02" + zstd(json.dumps(snap).encode())))

    subprocess.run(["restic", "check", "--read-data"], env=ENV, check=True)
    print(restic("ls", "-l", snap_id).decode(errors="replace"))
    restic("restore", snap_id, "--target", WORK + "/restore")
    out = os.fsencode(WORK + "/restore")
    names = sorted(os.listdir(out))
    assert names == [b"a-file", b"badlink", b"generic", b"x\xffname<\n>"], names
    with open(out + b"/a-file", "rb") as f:
        assert f.read() == b"hello world\n"
    assert os.stat(out + b"/x\xffname<\n>").st_mode & 0o7777 == 0o4755
    assert os.getxattr(out + b"/x\xffname<\n>", "user.test") == b"hello"
    # 0.14 ignores linktarget_raw and restores the lossy target; 0.16+ restores b"bad\xfftarget".
    assert os.readlink(out + b"/badlink") == "bad\ufffdtarget".encode()
    print("restic read and restored the Halley-encoded tree")


if __name__ == "__main__":
    main()
