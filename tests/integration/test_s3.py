#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""backup-tool on `s3:` vaults, against two real S3 servers on loopback: Ceph's radosgw (a real
object store that checks signatures, digests and conditional writes) and s3rver (a light fake
many users test with). For each: the BlobStore conformance suite (tests/s3_blob_store_test.cc),
backup, check --read-data and restore, and Debian's restic reading and writing the same vault
(the layout is restic's), and a local vault moved to S3 with rclone; on Ceph, a vault under S3
Object Lock. Then the failure paths: wrong credentials exit 13, a server gone for good exits 14
once the retry bound passes.

  python3 tests/integration/test_s3.py --backup-tool PATH --s3-test PATH
"""

import datetime
import json
import os
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from s3servers import CephRgw, S3rver  # noqa: E402

# What s3rver 3.7.1 does not do (s3servers.py has the table), so the suite's tests of it
# cannot pass there; Ceph runs them all.
S3RVER_GAPS = [
    "*RangePastTheEndIsCorruption*",       # wrong Content-Length on unsatisfiable ranges
    "*ReadAtFillsTheCallersBuffer*",       # "bytes=0-0" answers the whole object
    "*ConcurrentPutsOfOneNameHaveOneWinner*",  # If-None-Match ignored: last writer wins
    "*MultipartUploadsLeaveNothingOpen*",  # cannot list uploads (501)
    "*StaleUploadsAreAborted*",            # the same
    "*WrongCredentialsAreRefused*",        # signatures are not checked
    "*ObjectLock*",                        # no Object Lock (nor versioning) at all
    "*/Locked",                            # the same: the suite in a locked bucket
    # A listing that meets an object still being written answers 500 InternalError (seen
    # once in CI under ASan); Ceph runs this test, and clients retry 5xx.
    "*ConcurrentPutGetList*",
]
# What Ceph 16.2 does not do: in a versioned bucket (every locked one) a PUT with
# If-None-Match: * over an existing key succeeds as a new version.
CEPH_GAPS = [
    "*ConcurrentPutsOfOneNameHaveOneWinner/Locked",
]


def restored_path(target, src):
    return os.path.join(target, src.lstrip(b"/"))


def rclone_env(server):
    """The environment for rclone with `server` as the remote "ceph:"."""
    env = dict(os.environ, RCLONE_CONFIG_CEPH_TYPE="s3", RCLONE_CONFIG_CEPH_PROVIDER="Ceph",
               RCLONE_CONFIG_CEPH_ENDPOINT=server.endpoint,
               RCLONE_CONFIG_CEPH_ACCESS_KEY_ID=server.access_key,
               RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY=server.secret_key,
               RCLONE_CONFIG_CEPH_REGION=server.region, RCLONE_CONFIG="/dev/null")
    # rclone 1.60's AWS SDK fails on a custom CA bundle with its own HTTP transport.
    env.pop("AWS_CA_BUNDLE", None)
    return env


class S3Servers:
    """The servers, started once for all tests (Ceph takes a few seconds)."""

    ceph = s3rver = s3rver_tls = None

    @classmethod
    def start(cls, workdir):
        cls.ceph = CephRgw(os.path.join(workdir, "ceph")).start()
        s3dir = os.path.join(workdir, "s3rver")
        os.makedirs(s3dir)
        cls.s3rver = S3rver(s3dir).start()
        # restic signs plain-http uploads in the aws-chunked form, which s3rver stores
        # verbatim: restic writes through a TLS instance on the same directory.
        cls.s3rver_tls = S3rver(s3dir, tls=True).start()

    @classmethod
    def stop(cls):
        for s in (cls.s3rver_tls, cls.s3rver, cls.ceph):
            if s:
                s.stop()


class S3Vault(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        ok = CephRgw.available()
        if not ok:
            raise RuntimeError("Ceph is needed (scripts/install-deps installs it): " + ok.reason)
        ok = S3rver.available()
        if not ok:
            raise RuntimeError("s3rver is needed (scripts/install-deps installs it): " + ok.reason)
        cls.root = harness.Workdir("s3servers")
        S3Servers.start(cls.root.path.decode() if isinstance(cls.root.path, bytes)
                        else cls.root.path)

    @classmethod
    def tearDownClass(cls):
        S3Servers.stop()
        cls.root.close()

    def setUp(self):
        super().setUp()
        self.rng, _ = harness.seeded_rng(self.id())

    def servers(self):
        return [("ceph", S3Servers.ceph), ("s3rver", S3Servers.s3rver)]

    def vault(self, server, location):
        v = harness.Vault(location, self.wd.path)
        v.env.update(server.env())
        return v

    def build_tree(self, name):
        return harness.build_restic_tree(self.wd.sub(name), self.rng)

    # ------------------------------------------------------------------------------------
    def test_conformance_suite(self):
        for name, server in self.servers():
            with self.subTest(server=name):
                bucket = f"conformance-{name}"
                server.make_bucket(bucket)
                env = dict(os.environ, **server.env(), HALLEY_S3_ENDPOINT=server.endpoint,
                           HALLEY_S3_BUCKET=bucket)
                gaps = S3RVER_GAPS if server is S3Servers.s3rver else CEPH_GAPS
                argv = [harness.OPTIONS.s3_test, "--gtest_filter=-" + ":".join(gaps)]
                r = harness.run(argv, env=env, timeout=900)
                if r.rc != 0:
                    self.fail(f"conformance suite on {name} failed:\n{r.describe()}")
                self.assertIn("[  PASSED  ]", r.stdout)

    def test_backup_check_restore_and_restic_shares_the_vault(self):
        for name, server in self.servers():
            with self.subTest(server=name):
                bucket = f"vault-{name}"
                server.make_bucket(bucket)
                location = f"s3:{server.endpoint}/{bucket}/some/prefix"
                v = self.vault(server, location)
                r = v.init()
                self.assertIn(location, r.stdout)
                src = self.build_tree(f"src-{name}")
                _, first = v.backup(src)
                harness.write_file(os.path.join(src, b"added-later"), b"later\n")
                _, second = v.backup(src)
                self.assertEqual(second.get("files_new"), 1, second)
                v.bt("check", "--read-data", expect=0)
                target = self.wd.sub(f"restore-{name}")
                v.restore("latest", target, expect=0)
                self.assertTreesEqual(src, restored_path(target, src), compare_root=True)

                # restic reads and writes the same vault: its own layout under the prefix.
                r_loc = location
                extra = []
                if server is S3Servers.s3rver:
                    r_loc = f"s3:{S3Servers.s3rver_tls.endpoint}/{bucket}/some/prefix"
                    extra = ["--cacert", S3Servers.s3rver_tls.cert]
                rv = self.vault(server, r_loc)
                self.restic_ok(rv, *extra, "--no-cache", "check", "--read-data")
                self.restic_ok(rv, *extra, "--no-cache", "backup", os.fsdecode(src))
                snaps = v.snapshots()
                self.assertEqual(len(snaps), 3)
                self.assertIn(first["snapshot_id"], [s["id"] for s in snaps])
                v.bt("check", "--read-data", expect=0)

    def test_the_upload_limit_holds_over_30_seconds(self):
        server = S3Servers.s3rver
        server.make_bucket("limited")
        v = self.vault(server, f"s3:{server.endpoint}/limited/v")
        v.init()
        src = self.wd.mkdir("limited-src")
        size = 30 << 20
        harness.write_file(os.path.join(src, b"random"), harness.pseudo_random_bytes(self.rng, size))
        start = time.monotonic()
        _, summary = v.backup(src, extra=("--limit-upload", "1024"))  # 1 MiB/s
        took = time.monotonic() - start
        sent = summary["data_added_packed"] if "data_added_packed" in summary else size
        rate = sent / took / (1 << 20)
        harness.log(f"uploaded {sent} bytes in {took:.1f} s: {rate:.3f} MiB/s (limit 1)")
        self.assertLessEqual(rate, 1.10)
        self.assertGreaterEqual(sent, size)
        v.bt("check", "--read-data", expect=0)

    def test_a_local_vault_copied_to_s3_with_rclone_restores_the_same(self):
        """The manual's migration between Storage Vault types: every type has the same layout,
        so copying the files moves a vault. rclone copies a local vault into Ceph; there it
        opens with the same password, checks clean, restores the same tree and takes new
        backups; copied back to disk, it is still a vault."""
        server = S3Servers.ceph
        server.make_bucket("migrated")
        local = self.new_vault("local")
        src = self.build_tree("migrate-src")
        _, summary = local.backup(src)
        env = rclone_env(server)
        r = harness.run(["rclone", "copy", os.fsdecode(local.path), "ceph:migrated/moved"],
                        env=env)
        self.assertEqual(r.rc, 0, r.describe())
        v = self.vault(server, f"s3:{server.endpoint}/migrated/moved")
        self.assertEqual([s["id"] for s in v.snapshots()], [summary["snapshot_id"]])
        v.bt("check", "--read-data", expect=0)
        target = self.wd.sub("migrate-restore")
        v.restore("latest", target, expect=0)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
        harness.write_file(os.path.join(src, b"after-the-move"), b"new\n")
        _, second = v.backup(src)
        self.assertEqual(second.get("files_new"), 1, second)
        back = self.wd.sub("copied-back")
        r = harness.run(["rclone", "copy", "ceph:migrated/moved", os.fsdecode(back)], env=env)
        self.assertEqual(r.rc, 0, r.describe())
        returned = harness.Vault(back, self.wd.path)
        self.assertEqual(len(returned.snapshots()), 2)
        returned.bt("check", "--read-data", expect=0)

    def test_object_lock_keeps_what_prune_removes(self):
        """-o s3.object-lock: init makes the bucket with Object Lock, and the vault works as any
        other (backup, forget --prune, check --read-data, restore). What prune removed is gone
        from the vault, but its versions stay and the vault's own credentials cannot delete
        them, nor the versions of live objects; lock files are kept by nothing. The vault as it
        was before the prune comes back with rclone --s3-version-at, as docs/storage.md says.
        Ceph only: s3rver has no Object Lock."""
        server = S3Servers.ceph
        lock = ("-o", "s3.object-lock=governance", "-o", "s3.object-lock-days=1")
        v = self.vault(server, f"s3:{server.endpoint}/locked-vault/v")
        r = v.bt("-o", "s3.object-lock=governance", "init")
        self.assertExit(r, 1)
        self.assertIn("s3.object-lock-days", r.stderr)
        v.bt(*lock, "init", expect=0)
        r = server.request("GET", "/locked-vault", query=[("object-lock", "")])
        self.assertIn(b"<ObjectLockEnabled>Enabled</ObjectLockEnabled>", r.body)

        # A snapshot of data nothing else has, forgotten and pruned: its packs are removed.
        only = self.wd.mkdir("locked-only")
        harness.write_file(os.path.join(only, b"gone"),
                           harness.pseudo_random_bytes(self.rng, 8 << 20))
        _, first = v.backup(only, extra=lock)
        src = self.build_tree("locked-src")
        v.backup(src, extra=lock)
        time.sleep(1.5)
        before_prune = datetime.datetime.now(datetime.timezone.utc)
        time.sleep(1.5)
        v.bt(*lock, "forget", first["snapshot_id"], "--prune", expect=0)
        v.bt("check", "--read-data", expect=0)
        target = self.wd.sub("locked-restore")
        v.restore("latest", target, expect=0)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
        self.assertEqual(len(v.snapshots()), 1)

        r = server.request("GET", "/locked-vault", query=[("versions", ""), ("prefix", "v/")])
        self.assertEqual(r.status, 200, r.body[:500])
        ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        versions = [(e.findtext("s3:Key", namespaces=ns), e.findtext("s3:VersionId", namespaces=ns),
                     e.findtext("s3:IsLatest", namespaces=ns) == "true")
                    for e in ET.fromstring(r.body).findall("s3:Version", ns)]
        self.assertFalse(ET.fromstring(r.body).findtext("s3:IsTruncated", namespaces=ns) == "true")
        removed = [(k, vid) for k, vid, latest in versions if not latest]
        kinds = {k.split("/")[1] for k, _ in removed}
        # prune removed packs and the old index, forget the first snapshot: all still stored
        self.assertTrue({"data", "index", "snapshots", "locks"} <= kinds, sorted(kinds))
        live = [(k, vid) for k, vid, latest in versions if latest and k.startswith("v/data/")]
        self.assertTrue(live)
        for key, vid in removed + live[:1]:
            if key.startswith("v/locks/"):
                continue
            r = server.request("DELETE", "/locked-vault/" + key, query=[("versionId", vid)])
            self.assertEqual(r.status, 403, f"{key}: {r.status} {r.body[:300]!r}")
        # Lock files carry no retention: their old versions go for good.
        for key, vid in removed:
            if key.startswith("v/locks/"):
                r = server.request("DELETE", "/locked-vault/" + key, query=[("versionId", vid)])
                self.assertEqual(r.status, 204, f"{key}: {r.status} {r.body[:300]!r}")

        # The vault as it was before the prune: both snapshots, every pack.
        back = self.wd.sub("locked-before-prune")
        r = harness.run(["rclone", "copy", "--s3-version-at",
                         before_prune.strftime("%Y-%m-%dT%H:%M:%SZ"), "ceph:locked-vault/v",
                         os.fsdecode(back)], env=rclone_env(server))
        self.assertEqual(r.rc, 0, r.describe())
        earlier = harness.Vault(back, self.wd.path)
        self.assertEqual(len(earlier.snapshots()), 2)
        earlier.bt("check", "--read-data", expect=0)

        # A bucket made without Object Lock is refused, with what to do.
        server.make_bucket("unlocked")
        u = self.vault(server, f"s3:{server.endpoint}/unlocked/v")
        r = u.bt(*lock, "init")
        self.assertExit(r, 1)
        self.assertIn('"unlocked" does not have S3 Object Lock enabled', r.stderr)

    def test_wrong_credentials_exit_13(self):
        server = S3Servers.ceph
        server.make_bucket("creds")
        v = self.vault(server, f"s3:{server.endpoint}/creds/v")
        v.init()
        key = server.secret_key
        v.env["AWS_SECRET_ACCESS_KEY"] = key[:-1] + ("y" if key.endswith("x") else "x")  # wrong
        r = v.bt("snapshots")
        self.assertExit(r, 13)
        self.assertNotIn(v.env["AWS_SECRET_ACCESS_KEY"], r.stderr)
        del v.env["AWS_SECRET_ACCESS_KEY"]
        r = v.bt("snapshots")
        self.assertExit(r, 1)
        self.assertIn("AWS_SECRET_ACCESS_KEY", r.stderr)

    def test_a_server_gone_for_good_exits_14_within_the_bound(self):
        d = self.wd.mkdir("gone")
        server = S3rver(os.fsdecode(d)).start()
        try:
            server.make_bucket("gone")
            v = self.vault(server, f"s3:{server.endpoint}/gone/v")
            v.init()
        finally:
            server.stop()
        start = time.monotonic()
        r = v.bt("--retry-seconds", "4", "snapshots")
        took = time.monotonic() - start
        self.assertExit(r, 14)
        self.assertGreaterEqual(took, 4)
        self.assertLess(took, 30)
        self.assertIn("retrying in", r.stderr)
        self.assertIn("gave up after", r.stderr)
        # --json: the exit code is in the last line.
        r = v.bt("--json", "--retry-seconds", "0", "snapshots")
        self.assertExit(r, 14)
        self.assertEqual(json.loads(r.stderr.splitlines()[-1])["code"], 14)


if __name__ == "__main__":
    harness.main([("--s3-test", {"required": True, "help": "path of s3_blob_store_test"})])
