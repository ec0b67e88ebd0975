#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates the golden tree blobs and snapshot documents in this directory with the real
# restic (Debian's 0.14.0). Needs root (mknod), restic, setfattr, zstd and python3-cryptography.
#
#   python3 src/snapshot/testdata/make_golden.py
#
# Writes trees/<blob id> (the exact plaintext tree blob restic stored; the file name is its
# SHA-256) and snapshots/<snapshot id>.json (the exact decrypted, decompressed snapshot file).
# The source tree lives at a fixed path so that the snapshot paths are stable; the times in it
# are fixed too, and TZ=Europe/Berlin makes restic write non-UTC offsets.
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = "/tmp/halley-snapshot-golden"
SRC = WORK + "/src"
REPO = WORK + "/repo"
ENV = dict(os.environ, RESTIC_PASSWORD="x", RESTIC_REPOSITORY=REPO, TZ="Europe/Berlin",
           RESTIC_CACHE_DIR=WORK + "/cache")


def restic(*args, capture=True):
    out = subprocess.run(["restic", *args], env=ENV, check=True,
                         stdout=subprocess.PIPE if capture else None)
    return out.stdout


def touch(path, seconds, nanos=0):
    ns = seconds * 1_000_000_000 + nanos
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def write(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


def build_source():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(SRC + "/dir/sub")
    s = os.fsencode(SRC)
    write(SRC + "/regular.txt", b"hello world\n")
    write(SRC + "/empty")
    write(SRC + "/dir/inner.txt", b"inner\n")
    write(SRC + "/dir/sub/deep.txt", b"deep\n")
    # Invalid UTF-8 file name (restic quotes it as \xff\xfe).
    write(s + b"/dir/\xff\xfe", b"invalid utf-8 name\n")
    os.symlink("regular.txt", SRC + "/link")
    os.symlink("does-not-exist", SRC + "/dangling")
    # Target with invalid UTF-8: restic 0.14 stores it lossily ("\ufffd"); newer restic adds
    # linktarget_raw.
    os.symlink(b"bad\xfftarget", s + b"/badlink")
    os.mkfifo(SRC + "/fifo")
    write(SRC + "/hard1", b"hard link\n")
    os.link(SRC + "/hard1", SRC + "/hard2")
    write(SRC + "/xattr.txt", b"xattrs\n")
    subprocess.run(["setfattr", "-n", "user.test", "-v", "hello", SRC + "/xattr.txt"], check=True)
    subprocess.run(["setfattr", "-n", "user.empty", SRC + "/xattr.txt"], check=True)
    subprocess.run(["setfattr", "-n", "user.bin", "-v", "0x00ff10", SRC + "/xattr.txt"],
                   check=True)
    write(SRC + "/setuid", b"#!/bin/sh\n")
    os.chmod(SRC + "/setuid", 0o4755)
    write(SRC + "/setgid", b"")
    os.chmod(SRC + "/setgid", 0o2750)
    os.mkdir(SRC + "/sticky")
    os.chmod(SRC + "/sticky", 0o1777)
    os.mknod(SRC + "/null", 0o20666, os.makedev(1, 3))       # character device
    os.mknod(SRC + "/blockdev", 0o60640, os.makedev(7, 200))  # block device
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(SRC + "/sock")
    sock.close()
    with open(SRC + "/big.bin", "wb") as f:  # several content blobs
        f.write(hashlib.shake_256(b"halley").digest(8 << 20))
    names = ["with space", 'quote"', "back\\slash", "<>&", "new\nline", "tab\there", "é",
             "日本", "ctl\x01\x7f", "c1\u0085nbsp\u00a0shy\u00ad", "zw\u200b\u200f\u2028",
             "bom\ufeff", "pua\ue000", "emoji\U0001f600", "comb\u0301", "repl\ufffd"]
    for name in names:
        write(SRC + "/" + name, name.encode() + b"\n")
    # Fixed times: one winter and one summer (+01:00 / +02:00), nanoseconds with trailing zeros.
    for root, dirs, files in os.walk(s, topdown=False):
        for i, n in enumerate(sorted(dirs + files)):
            touch(os.path.join(root, n), 1700000000 + i * 86400 * 40, 123400000 * (i % 3))
    touch(s, 1720000000, 5)


def master_key():
    mk = json.loads(restic("cat", "masterkey"))
    import base64
    return base64.b64decode(mk["encrypt"])


def decrypt_unpacked(key, data):
    iv, ct = data[:16], data[16:-16]  # the MAC was checked by restic when it wrote the file
    dec = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
    plain = dec.update(ct) + dec.finalize()
    if plain[:1] == b"\x02":
        plain = subprocess.run(["zstd", "-dc"], input=plain[1:], stdout=subprocess.PIPE,
                               check=True).stdout
    return plain


def main():
    build_source()
    restic("init", capture=False)
    restic("backup", "--host", "golden-host", "--tag", "a", "--tag", "b,c", "--exclude",
           "*.tmp", "--exclude", "nothing", SRC, capture=False)
    restic("backup", "--host", "golden-host", SRC, capture=False)  # gets a parent
    latest = json.loads(restic("snapshots", "--json", "latest"))[0]["id"]
    restic("tag", "--add", "added", latest, capture=False)  # rewrites: gets "original"

    for sub in ("trees", "snapshots"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
        os.makedirs(os.path.join(HERE, sub))
    key = master_key()
    trees = []
    for name in sorted(os.listdir(REPO + "/snapshots")):
        with open(os.path.join(REPO, "snapshots", name), "rb") as f:
            plain = decrypt_unpacked(key, f.read())
        write(os.path.join(HERE, "snapshots", name + ".json"), plain)
        trees.append(json.loads(plain)["tree"])
    seen = set()
    while trees:
        tid = trees.pop()
        if tid in seen:
            continue
        seen.add(tid)
        blob = restic("cat", "blob", tid)
        assert hashlib.sha256(blob).hexdigest() == tid
        write(os.path.join(HERE, "trees", tid), blob)
        for node in json.loads(blob)["nodes"]:
            if node.get("subtree"):
                trees.append(node["subtree"])
    print(f"{len(seen)} trees", file=sys.stderr)


if __name__ == "__main__":
    main()
