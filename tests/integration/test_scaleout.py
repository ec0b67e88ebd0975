#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Scale-out of the Storage Role (docs/scaling.md): two halleyd instances whose
StorageRole.Storage is one S3 bucket on Ceph's radosgw serve the same Halley buckets. A bucket
registered through either is served by both; a backup through one restores (with backup-tool
and with restic) through the other; the objects live in Ceph, not on either server's disk; a
bucket deleted through one stops working on the other within the registration refresh.

  python3 tests/integration/test_scaleout.py --backup-tool PATH --halleyd PATH
"""

import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from s3servers import CephRgw  # noqa: E402
from server import Halleyd, HalleydTestCase, config, register_bucket, setup_admin  # noqa: E402

REFRESH_SECONDS = 10  # kSharedRegistrationRefresh in src/server/app.cc


def restored_path(target, src):
    return os.path.join(target, src.lstrip(b"/"))


class ScaleOut(HalleydTestCase):
    def start_pair(self, s3):
        s3.make_bucket("halley-storage")
        endpoint = urllib.parse.urlsplit(s3.endpoint)
        storage = {"DestinationType": 1000, "S3Server": endpoint.netloc, "S3UsesTLS": False,
                   "S3BucketName": "halley-storage", "S3Subdir": "role",
                   "S3AccessKey": s3.access_key, "S3SecretKey": s3.secret_key,
                   "S3CustomRegion": s3.region}
        cfg = config(StorageRole={"RoleEnabled": True, "Storage": storage})
        servers = []
        for name in ("a", "b"):
            s = Halleyd(os.fsdecode(self.wd.sub(name)), config=cfg)
            self.servers.append(s)
            servers.append((s, setup_admin(s)))
        return servers

    def s3_keys(self, s3, prefix):
        r = s3.request("GET", "/halley-storage", query=[("list-type", "2"), ("prefix", prefix)])
        self.assertEqual(r.status, 200, r.body)
        return r.body.decode().count("<Key>")

    def test_two_servers_on_one_ceph_serve_the_same_buckets(self):
        ok = CephRgw.available()
        if not ok:
            self.skipTest(ok.reason)
        with CephRgw(os.fsdecode(self.wd.sub("ceph"))) as s3:
            (a, admin_a), (b, admin_b) = self.start_pair(s3)
            bucket, key = register_bucket(a, admin_a)

            # Backup through a.
            va = harness.Vault(a.rest_url(bucket, key), self.wd.path)
            va.init()
            src = self.wd.sub("src")
            harness.build_every_type_tree(src, self.rng, big=False, nonutf8_symlink=False,
                                          sparse_size=4 << 20)
            harness.write_file(os.path.join(src, b"random-3MiB"),
                               harness.pseudo_random_bytes(self.rng, 3 << 20))
            _, summary = va.backup(src)

            # The objects are in Ceph under role/<bucket>/, and on neither server's disk.
            self.assertGreater(self.s3_keys(s3, f"role/{bucket}/data/"), 0)
            for s in (a, b):
                on_disk = [n for _, _, names in os.walk(s.data_dir) for n in names
                           if len(n) == 64]
                self.assertEqual(on_disk, [], s.data_dir)

            # Restore and check through b, with backup-tool and with restic.
            vb = harness.Vault(b.rest_url(bucket, key), self.wd.path)
            vb.bt("check", "--read-data", expect=0)
            target = self.wd.sub("restore-b")
            vb.restore(summary["snapshot_id"], target, expect=0)
            self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
            if harness.find_restic():
                self.restic_ok(vb, "check", "--read-data")
                target2 = self.wd.sub("restic-restore-b")
                self.restic_ok(vb, "restore", "latest", "--target", target2)
                self.assertTreesEqual(src, restored_path(target2, src), compare_root=True)

            # A bucket registered through b is listed and served by a; IDs stay unique.
            bucket2, key2 = register_bucket(b, admin_b, SetBucketValue="from-b")
            status, listed = a.api("admin/storage/list-buckets", auth=admin_a)
            self.assertEqual(status, 200, listed)
            self.assertEqual(sorted(listed), sorted([bucket, bucket2]))
            status, reply = a.api("admin/storage/register-bucket", auth=admin_a,
                                  SetBucketValue="from-b")
            self.assertNotEqual(status, 200, reply)
            harness.Vault(a.rest_url(bucket2, key2), self.wd.path).init()
            self.assertGreater(self.s3_keys(s3, "role/from-b/keys/"), 0)
            # A wrong key is refused by both.
            for s in (a, b):
                status, _, _ = s.storage("GET", bucket, key + "x", "config")
                self.assertEqual(status, 401)

            # Deleted through b: its objects go at once, a refuses it within the refresh.
            status, reply = b.api("admin/storage/delete-bucket", auth=admin_b, BucketID=bucket)
            self.assertEqual(status, 200, reply)
            self.assertEqual(self.s3_keys(s3, f"role/{bucket}/"), 0)
            deadline = time.monotonic() + REFRESH_SECONDS + 5
            while True:
                status, _, _ = a.storage("GET", bucket, key, "config")
                if status == 401 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            self.assertEqual(status, 401)


if __name__ == "__main__":
    harness.main()
