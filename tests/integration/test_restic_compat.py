#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Byte compatibility with restic (DESIGN §5): Debian's restic 0.14 must check --read-data and
restore what backup-tool wrote, backup-tool must restore what restic wrote and may add to a
restic-made vault, and a managed vault opens in restic with hex(E) as its password.

restic 0.14 cannot store symlink targets that are not valid UTF-8 (it replaces the bytes with
U+FFFD; linktarget_raw came in 0.16), so the trees here have none; test_roundtrip covers them.

  python3 tests/integration/test_restic_compat.py --backup-tool PATH
"""

import json
import os
import secrets
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def restored_path(target, src):
    """Where a restore of the whole snapshot puts the absolute path `src` beneath `target`."""
    return os.path.join(target, src.lstrip(b"/"))


@unittest.skipUnless(harness.find_restic(), "restic is not installed")
class ResticCompat(harness.TestCase):
    def build(self, name="src"):
        rng, _ = harness.seeded_rng(self.id().split(".")[-1])
        src = self.wd.sub(name)
        harness.build_every_type_tree(src, rng, big=False, nonutf8_symlink=False,
                                      sparse_size=16 << 20)
        # Several chunks per file, so that chunk boundaries matter.
        harness.write_file(os.path.join(src, b"random-5MiB"), harness.pseudo_random_bytes(rng, 5 << 20))
        harness.set_mtime(os.path.join(src, b"random-5MiB"), 1_650_000_000 * harness.NS + 42)
        harness.set_mtime(src, 1_650_000_001 * harness.NS + 43)
        return src

    def restic_restore_and_compare(self, v, snap, src, target_name):
        target = self.wd.sub(target_name)
        v.restic("restore", snap, "--target", target, expect=0)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)

    def test_a_restic_reads_backup_tool_vault(self):
        src = self.build()
        v = self.new_vault()
        _, s = v.backup(src, extra=("--host", "it-host", "--tag", "alpha,beta"))
        snap = s["snapshot_id"]
        # A second, incremental snapshot, so that parents and shared blobs are exercised too.
        harness.write_file(os.path.join(src, b"added-later"), b"later\n")
        _, s2 = v.backup(src, extra=("--host", "it-host", "--tag", "alpha,beta"))
        v.restic_check(read_data=True)
        # restic lists our snapshots with the right metadata.
        r = v.restic("snapshots", "--json", expect=0)
        listed = {j["id"]: j for j in json.loads(r.stdout)}
        self.assertEqual(sorted(listed), sorted([snap, s2["snapshot_id"]]))
        j = listed[snap]
        self.assertEqual(j["paths"], [os.fsdecode(src)])
        self.assertEqual(j["hostname"], "it-host")
        self.assertEqual(sorted(j.get("tags") or []), ["alpha", "beta"])
        self.assertEqual(j["username"], "root")
        self.assertEqual(listed[s2["snapshot_id"]].get("parent"), snap)
        # restic restores the latest snapshot identical to the source.
        self.restic_restore_and_compare(v, "latest", src, "restic-restore")
        # restic's ls agrees on the names (raw bytes, Go-quoted on the wire).
        r = v.restic("ls", "--json", snap, expect=0)
        names = set()
        for line in r.stdout.splitlines():
            o = json.loads(line)
            if o.get("struct_type") == "node":
                names.add(o["path"])
        self.assertIn(os.fsdecode(src) + "/names/with space", names)
        self.assertIn(os.fsdecode(src) + "/names/new\nline", names)

    def test_b_backup_tool_reads_restic_vault_and_writes_into_it(self):
        src = self.build()
        v = harness.Vault(self.wd.sub("vault"), self.wd.path)
        v.restic("init", expect=0)
        r = v.restic("backup", "--json", src, expect=0)
        restic_snap = [json.loads(l) for l in r.stdout.splitlines()
                       if '"summary"' in l][-1]["snapshot_id"]
        # backup-tool restores restic's snapshot identical to the source (whole snapshot and a
        # SNAPSHOT:PATH restore).
        t = self.wd.sub("bt-restore")
        self.assertExit(v.restore(restic_snap, t), 0)
        self.assertTreesEqual(src, restored_path(t, src), compare_root=True)
        t2 = self.wd.sub("bt-restore-path")
        self.assertExit(v.restore(f"latest:{os.fsdecode(src)}/hard", t2), 0)
        self.assertTreesEqual(os.path.join(src, b"hard"), t2)

        # backup-tool backs up into the restic vault. With --force it reads every file again;
        # with restic's chunker parameters the chunks are the same and no file data is added.
        total = sum(e.get("size", 0) for e in harness.scan_tree(src).values())
        _, s = v.backup(src, extra=("--force",))
        self.assertLess(s["data_added"], total // 100,
                        f"backup-tool added {s['data_added']} bytes of {total} already in the "
                        "restic vault: it does not chunk like restic here")
        # New data too, then restic checks everything and restores our snapshot.
        harness.write_file(os.path.join(src, b"new-from-backup-tool"),
                           os.urandom(3 << 20))
        _, s2 = v.backup(src)
        self.assertGreaterEqual(s2["data_added"], 3 << 20)
        v.restic_check(read_data=True)
        self.restic_restore_and_compare(v, s2["snapshot_id"], src, "restic-restore")
        # And restic's own next backup deduplicates against ours.
        r = v.restic("backup", "--json", src, expect=0)
        summary = [json.loads(l) for l in r.stdout.splitlines() if '"summary"' in l][-1]
        self.assertLess(summary["data_added"], 1 << 20, summary)

    def test_d_compression_and_pack_size_variants(self):
        """--compression off|max and small packs write vaults restic reads just as well."""
        src = self.build()
        v = self.new_vault()
        for flags in (("--compression", "off"), ("--compression", "max"), ("--pack-size", "4")):
            harness.write_file(os.path.join(src, b"variant"),
                               os.urandom(6 << 20) + b"z" * (1 << 20))
            r = v.bt("--json", *flags, "backup", src, expect=0)
            snap = [j for j in r.json_lines() if j.get("message_type") == "summary"][0]
            self.restic_restore_and_compare(v, snap["snapshot_id"], src,
                                            "restic-" + "-".join(flags).strip("-"))
        v.restic_check(read_data=True)

    def test_c_managed_vault_opens_in_restic_with_hex_e(self):
        e_key = secrets.token_hex(16)  # a managed vault's E key: 128 bits as 32 hex digits
        self.assertEqual(len(e_key), 32)
        src = self.build()
        v = harness.Vault(self.wd.sub("vault"), self.wd.path, password=e_key)
        # Without the insecure test KDF: the flag alone must select the cheap parameters.
        env = dict(v.env)
        del env["BACKUP_TOOL_INSECURE_TEST_KDF"]
        v.bt("init", "--full-entropy-password", env=env, expect=0)
        keys = v.files("keys")
        self.assertEqual(len(keys), 1)
        k = json.loads(harness.read_file(keys[0]))
        self.assertEqual(k["kdf"], "scrypt")
        self.assertLessEqual(k["N"] * k["r"] * k["p"], 64,
                             f"full-entropy key file uses costly scrypt parameters: {k}")
        _, s = v.backup(src, extra=())
        v.restic_check(read_data=True)
        self.restic_restore_and_compare(v, s["snapshot_id"], src, "restic-restore")
        # The wrong key does not open it (in either program).
        wrong = dict(v.env, RESTIC_PASSWORD=secrets.token_hex(16))
        r = harness.run(["restic", "snapshots"], env=wrong)
        self.assertNotEqual(r.rc, 0)
        self.assertExit(v.bt("snapshots", env=dict(v.env, BACKUP_TOOL_PASSWORD=e_key.upper())),
                        12)


if __name__ == "__main__":
    harness.main()
