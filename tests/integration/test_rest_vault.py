#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""backup-tool on a `rest:` vault: a bucket of halleyd's Storage Role, the data path of a
managed device. backup-tool writes, checks and restores through the server; Debian's restic
reads the same bucket; a wrong bucket key exits 13 with a clear message; over TLS with a
self-signed certificate backup-tool refuses the server until given --cacert.

  python3 tests/integration/test_rest_vault.py --backup-tool PATH --halleyd PATH
"""

import json
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import HalleydTestCase, config as server_config, register_bucket, setup_admin  # noqa: E402,E501



def restored_path(target, src):
    """Where a restore of the whole snapshot puts the absolute path `src` beneath `target`."""
    return os.path.join(target, src.lstrip(b"/"))


@unittest.skipUnless(harness.find_restic(), "restic is not installed")
class RestVault(HalleydTestCase):
    def vault(self, url):
        # Vault sets BACKUP_TOOL_REPOSITORY and RESTIC_REPOSITORY to the location it is given.
        return harness.Vault(url, self.wd.path)

    def build_tree(self, name="src"):
        src = harness.build_restic_tree(self.wd.sub(name), self.rng)
        harness.set_mtime(src, 1_650_000_001 * harness.NS + 43)
        return src

    # ------------------------------------------------------------------------------------
    def test_backup_check_restore_and_restic_reads_the_bucket(self):
        s = self.start()
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin)
        v = self.vault(s.rest_url(bucket, key))
        r = v.init()
        self.assertIn(f"rest:http://{s.address}/storage/{bucket}", r.stdout)
        self.assertNotIn(key, r.stdout + r.stderr)

        src = self.build_tree()
        _, summary = v.backup(src)
        snap = summary["snapshot_id"]
        # The objects are on the server, in the bucket's directory.
        packs = [n for _, _, names in os.walk(os.path.join(self.data, "storage", bucket, "data"))
                 for n in names]
        self.assertTrue(packs)
        # An incremental backup through the same connection pool.
        harness.write_file(os.path.join(src, b"added-later"), b"later\n")
        _, summary2 = v.backup(src)
        self.assertEqual(summary2.get("files_new"), 1, summary2)

        v.bt("check", "--read-data", expect=0)
        target = self.wd.sub("restore")
        v.restore("latest", target, expect=0)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)

        # Debian's restic reads the same bucket over the same protocol.
        self.restic_ok(v, "check", "--read-data")
        listed = json.loads(self.restic_ok(v, "snapshots", "--json").stdout)
        self.assertEqual(sorted(j["id"] for j in listed),
                         sorted([snap, summary2["snapshot_id"]]))
        target2 = self.wd.sub("restic-restore")
        self.restic_ok(v, "restore", "latest", "--target", target2)
        self.assertTreesEqual(src, restored_path(target2, src), compare_root=True)

        # A wrong key: the server refuses it before any password is asked for; exit 13.
        wrong = "0" * len(key)
        bad = self.vault(s.rest_url(bucket, wrong))
        r = bad.bt("snapshots")
        self.assertExit(r, 13)
        self.assertIn("refused the vault's credentials", r.stderr)
        self.assertNotIn(wrong, r.stdout + r.stderr)
        r = bad.bt("--json", "backup", src)
        self.assertExit(r, 13)
        r = bad.bt("init")
        self.assertExit(r, 13)
        # Another bucket's key does not open this bucket either.
        _, other_key = register_bucket(s, admin)
        r = self.vault(s.rest_url(bucket, other_key)).bt("snapshots")
        self.assertExit(r, 13)

        # A bucket with no vault yet: exit 10, as for a local path.
        empty, empty_key = register_bucket(s, admin)
        r = self.vault(s.rest_url(empty, empty_key)).bt("snapshots")
        self.assertExit(r, 10)

        # The server gone: retried with warnings for BACKUP_TOOL_RETRY_SECONDS (5 s here),
        # then a clear network error and exit 14.
        s.stop()
        start = time.monotonic()
        r = v.bt("snapshots")
        self.assertExit(r, 14)
        self.assertGreaterEqual(time.monotonic() - start, 5)
        self.assertIn("retrying in", r.stderr)
        self.assertIn("gave up after", r.stderr)
        self.assertIn("Fatal:", r.stderr)
        self.assertIn("127.0.0.1", r.stderr)
        self.assertNotIn(key, r.stderr)

    def test_seed_load_a_local_vault_copied_into_a_bucket(self):
        """The spec's seed load and server migration: a vault made on a local disk is copied
        file by file into a bucket's directory, and from then on is used through the server
        with the same password (the vault's keys do not change)."""
        local = self.vault(self.wd.sub("local-vault"))
        local.init()
        src = self.build_tree()
        _, summary = local.backup(src)
        s = self.start()
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin)
        shutil.copytree(local.path, os.path.join(self.data, "storage", bucket).encode())
        v = self.vault(s.rest_url(bucket, key))
        snaps = json.loads(v.bt("--json", "snapshots", expect=0).stdout)
        self.assertEqual([j["id"] for j in snaps], [summary["snapshot_id"]])
        v.bt("check", "--read-data", expect=0)
        harness.write_file(os.path.join(src, b"after-the-move"), b"new data\n")
        _, summary2 = v.backup(src)
        self.assertEqual(summary2.get("files_new"), 1, summary2)
        target = self.wd.sub("restore")
        v.restore("latest", target, expect=0)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
        self.restic_ok(v, "check", "--read-data")

    def test_tls_with_a_self_signed_certificate_needs_cacert(self):
        s, cert = self.start_tls()
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin)
        v = self.vault(s.rest_url(bucket, key))

        # Without the CA: refused, saying why and what to do; nothing was created.
        r = v.bt("init")
        self.assertExit(r, 1)
        self.assertIn("is not trusted", r.stderr)
        self.assertIn("--cacert", r.stderr)
        self.assertNotIn(key, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.data, "storage", bucket, "config")))

        v.bt("--cacert", cert, "init", expect=0)
        src = self.wd.mkdir("src")
        for i in range(8):
            harness.write_file(os.path.join(src, b"f%d" % i),
                               harness.pseudo_random_bytes(self.rng, self.rng.randrange(300_000)))
        v.bt("--cacert", cert, "--json", "backup", src, expect=0)
        # The environment variable works as the flag does.
        v.bt("check", "--read-data", extra_env={"BACKUP_TOOL_CACERT": cert}, expect=0)
        target = self.wd.sub("restore")
        v.bt("restore", "latest", "--target", target, "--cacert", cert, expect=0)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
        r = v.bt("snapshots")
        self.assertExit(r, 1)
        self.assertIn("is not trusted", r.stderr)
        # A CA file that cannot be read is named.
        r = v.bt("--cacert", "/nonexistent/ca.pem", "snapshots")
        self.assertExit(r, 1)
        self.assertIn("/nonexistent/ca.pem", r.stderr)
        # restic trusts the same CA and reads the vault.
        self.restic_ok(v, "--cacert", cert, "check", "--read-data")


if __name__ == "__main__":
    harness.main()
