#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""backup-tool on an `s3:` vault (Ceph's radosgw) through a fault-injecting proxy
(faultproxy.py): connection resets before and after the server did the work, 503 SlowDown
answers, stalls and truncated bodies on 10% of the requests. The backup (with multipart
uploads) completes, `check --read-data` and a restore through the proxy succeed, and directly
against Ceph backup-tool and restic find the vault clean, with no multipart upload left open.
Then, the server gone for good, a command exits 14 once the retry bound has passed.

  python3 tests/integration/test_s3_faults.py --backup-tool PATH
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from faultproxy import KINDS, FaultProxy  # noqa: E402
from s3servers import CephRgw  # noqa: E402

MiB = 1 << 20
# Packs only exceed S3BlobStore's multipart threshold (64 MiB) with --pack-size above it. Data
# blobs go to one of two open packs, so once more than twice the pack size of incompressible
# data has been written, one of them has reached it: the tree has 136 MiB of random files for
# --pack-size 65, whatever way the blobs split.
PACK_SIZE = 65
RANDOM_FILES = {b"random-70MiB": 70 * MiB, b"random-40MiB": 40 * MiB, b"random-26MiB": 26 * MiB}
FAULT_RATE = 0.10
# How long a faulted phase may keep retrying one call. The harness's 5 s suits a server that is
# gone; here a 65 MiB multipart upload is redone whole after a fault in any of its 7 requests,
# and a stall alone takes 3 s.
FAULTED_RETRY_SECONDS = "120"
# The top-up phase: metadata-only commands at a higher rate until every kind has happened.
TOPUP_RATE = 0.3
TOPUP_ROUNDS = 12


def restored_path(target, src):
    return os.path.join(target, src.lstrip(b"/"))


class S3Faults(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        ok = CephRgw.available()
        if not ok:
            raise RuntimeError("Ceph is needed (scripts/install-deps installs it): " + ok.reason)
        cls.root = harness.Workdir("s3faults")
        # Aborted multipart uploads keep their parts in the OSD until radosgw's garbage
        # collection (hours): room for a few dozen aborted 65 MiB uploads.
        cls.ceph = CephRgw(os.path.join(os.fsdecode(cls.root.path), "ceph"),
                           memstore_bytes=3 << 30).start()

    @classmethod
    def tearDownClass(cls):
        cls.ceph.stop()
        cls.root.close()

    def setUp(self):
        super().setUp()
        self.rng, self.seed = harness.seeded_rng(self.id())

    def vault(self, endpoint, bucket, prefix="vault"):
        v = harness.Vault(f"s3:{endpoint}/{bucket}/{prefix}", self.wd.path)
        v.env.update(self.ceph.env())
        return v

    def bt_ok(self, v, *args, what):
        t = time.monotonic()
        r = v.bt(*args)
        if r.rc != 0:
            self.fail(f"{what} failed (exit {r.rc})\n{r.describe()}")
        retries = r.stderr.count("retrying in")
        harness.log(f"{what}: {time.monotonic() - t:.1f} s, {retries} retries")
        return r

    def open_uploads(self, bucket):
        r = self.ceph.request("GET", f"/{bucket}", query={"uploads": ""})
        self.assertEqual(r.status, 200, r.body[:500])
        return re.findall(rb"<Upload>.*?</Upload>", r.body, re.S)

    def multipart_objects(self, bucket):
        """Keys of the objects stored by a multipart upload (ETag "<md5>-<parts>")."""
        r = self.ceph.request("GET", f"/{bucket}", query={"list-type": "2"})
        self.assertEqual(r.status, 200, r.body[:500])
        out = []
        for entry in re.findall(rb"<Contents>(.*?)</Contents>", r.body, re.S):
            key = re.search(rb"<Key>(.*?)</Key>", entry).group(1)
            etag = re.search(rb"<ETag>(.*?)</ETag>", entry).group(1)
            if re.search(rb"-\d+(&quot;|\")?$", etag):
                out.append(key.decode())
        return out

    def build_tree(self):
        src = self.wd.sub("src")
        harness.build_every_type_tree(src, self.rng, big=False, nonutf8_symlink=False,
                                      sparse_size=16 * MiB)
        for name, size in RANDOM_FILES.items():
            harness.write_file(os.path.join(src, name), harness.pseudo_random_bytes(self.rng, size))
        return src

    # ------------------------------------------------------------------------------------
    def test_backup_check_restore_through_faults(self):
        bucket = "faults"
        self.ceph.make_bucket(bucket)
        src = self.build_tree()
        direct = self.vault(self.ceph.endpoint, bucket)
        direct.init()

        with FaultProxy(self.ceph.endpoint, p=FAULT_RATE, kinds=KINDS, seed=self.seed,
                        stall_seconds=3.0, name="faultproxy") as proxy:
            v = self.vault(proxy.endpoint, bucket)
            v.env["BACKUP_TOOL_RETRY_SECONDS"] = FAULTED_RETRY_SECONDS
            try:
                r = self.bt_ok(v, "--pack-size", str(PACK_SIZE), "--json", "backup", src,
                               what="backup through the proxy")
                summary = [j for j in r.json_lines() if isinstance(j, dict)
                           and j.get("message_type") == "summary"]
                self.assertTrue(summary, r.describe())
                self.bt_ok(v, "check", "--read-data", what="check --read-data through the proxy")
                target = self.wd.sub("restore")
                self.bt_ok(v, "restore", "latest", "--target", target,
                           what="restore through the proxy")
                self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
                main_counts = dict(proxy.counts)
                harness.log(f"faults at p={FAULT_RATE}: {main_counts}")

                # Every kind must have happened: read-only commands at a higher rate until
                # each has (each run must still succeed).
                proxy.set_faults(p=TOPUP_RATE)
                for round_ in range(TOPUP_ROUNDS):
                    missing = [k for k in KINDS if proxy.counts[k] == 0]
                    if not missing:
                        break
                    harness.log(f"top-up round {round_ + 1} at p={TOPUP_RATE} for {missing}")
                    self.bt_ok(v, "check", what="check through the proxy")
                    self.bt_ok(v, "ls", "latest", what="ls through the proxy")
                proxy.set_faults(p=0.0)
            finally:
                multipart = sum("uploadId=" in t or t.endswith("?uploads")
                                for _, t, _ in proxy.events)
                harness.log(f"faults: {proxy.counts}, {multipart} on multipart requests")
                for method, target_, kind in proxy.events:
                    print(f"    {kind:12} {method:6} {target_[:150]}", flush=True)
            for kind in KINDS:
                self.assertGreater(proxy.counts[kind], 0, f"no {kind} fault: {proxy.counts}")

        # Directly against Ceph: the vault is clean for backup-tool and restic, a multipart
        # upload did happen, and none is left open.
        self.bt_ok(direct, "check", "--read-data", what="check --read-data directly")
        t = time.monotonic()
        self.restic_ok(direct, "--no-cache", "check", "--read-data")
        harness.log(f"restic check --read-data directly: {time.monotonic() - t:.1f} s")
        self.assertTrue(self.multipart_objects(bucket),
                        "no object was stored by a multipart upload")
        leftovers = self.open_uploads(bucket)
        if leftovers:
            lines = []
            for u in leftovers:
                key = re.search(rb"<Key>(.*?)</Key>", u).group(1).decode()
                upload = re.search(rb"<UploadId>(.*?)</UploadId>", u).group(1).decode()
                lines.append(f"  {key} upload {upload}; the faults on its requests:")
                lines += [f"    {kind} {method} {t}" for method, t, kind in proxy.events
                          if t.split("?")[0].endswith(key)]
            self.fail(f"{len(leftovers)} multipart uploads left open (the proxy re-sent "
                      f"{proxy.counts['resent']} requests itself):\n" + "\n".join(lines))

    def test_a_server_gone_for_good_exits_14_within_the_bound(self):
        bucket = "gone"
        self.ceph.make_bucket(bucket)
        with FaultProxy(self.ceph.endpoint, p=0.0, name="faultproxy-gone") as proxy:
            v = self.vault(proxy.endpoint, bucket)
            v.init()
            self.bt_ok(v, "snapshots", what="snapshots through the proxy")
        # The proxy is stopped: its port refuses connections from now on.
        start = time.monotonic()
        r = v.bt("--retry-seconds", "4", "snapshots")
        took = time.monotonic() - start
        harness.log(f"snapshots with the server gone: exit {r.rc} after {took:.1f} s")
        self.assertExit(r, 14)
        self.assertGreaterEqual(took, 4)
        self.assertLess(took, 30)
        self.assertIn("gave up after", r.stderr)


if __name__ == "__main__":
    harness.main()
