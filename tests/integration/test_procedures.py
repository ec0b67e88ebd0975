#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The recovery procedures of docs/integrity.md that test_check.py and test_lifecycle.py do not
run, each as the document writes it:

  * a damaged index file, at rest (a flipped bit) and at generation time (valid encryption
    around text that is not an index: the manual's `Load(<index/...>): Decode [...]`): check
    names it, `rebuild-index` repairs the vault;
  * "Files by modification date": every vault file written after the start of a bad job is
    deleted with find -newermt, then rebuild-index and a retention pass leave a vault whose
    older snapshots all restore;
  * missing index/ and packindex/ files: rebuild-index, then a retention pass writes every
    packindex again;
  * unlock removes only stale locks; unlock --unsafe removes a live one, with a warning.

  python3 tests/integration/test_procedures.py --backup-tool PATH --craft-snapshot PATH
"""

import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Procedures(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.rng, _ = harness.seeded_rng(self.id())
        self.src = self.wd.sub("src")
        os.mkdir(self.src)
        self.v = self.new_vault()
        self.saved = {}  # snapshot id -> copy of the source at backup time

    def snap(self, name, size):
        """Adds a file to the source, backs it up and keeps a copy of the source."""
        harness.write_file(os.path.join(self.src, name),
                           harness.pseudo_random_bytes(self.rng, size))
        _, s = self.v.backup(self.src)
        copy = self.wd.sub("saved-" + s["snapshot_id"][:8])
        shutil.copytree(self.src, copy, symlinks=True)
        self.saved[s["snapshot_id"]] = copy
        return s["snapshot_id"]

    def craft(self, spec):
        path = os.path.join(os.fsdecode(self.wd.path), "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        r = harness.run([harness.OPTIONS.craft_snapshot, path], env=self.v.env)
        self.assertExit(r, 0)
        return json.loads(r.stdout.splitlines()[1])

    def assertRestoresExactly(self, ids):
        for sid in ids:
            out = self.wd.sub("out-" + sid[:8] + "-" + str(time.monotonic_ns()))
            self.assertExit(self.v.restore(f"{sid}:{os.fsdecode(self.src)}", out), 0)
            self.assertTreesEqual(self.saved[sid], out)

    def assertSnapshotIds(self, ids):
        self.assertEqual(sorted(s["id"] for s in self.v.snapshots()), sorted(ids))

    def test_damaged_index_file(self):
        if not harness.OPTIONS.craft_snapshot:
            self.skipTest("needs --craft-snapshot")
        ids = [self.snap(b"a", 300_000), self.snap(b"b", 300_000)]
        # At generation time: a well-encrypted index file whose text is not an index.
        bad = self.craft({"indexes": ["\u0000\u0000 not an index"]})["indexes"][0]
        r = self.v.bt("check")
        self.assertExit(r, 1)
        self.assertIn(f"Load(<index/{bad[:10]}>): Decode", r.stderr)
        # At rest: one bit of another index file flipped.
        others = [p for p in self.v.files("index") if os.path.basename(p).decode() != bad]
        harness.flip_bit(others[0], 40 * 8 + 4)
        r = self.v.bt("check")
        self.assertExit(r, 1)
        self.assertIn(os.path.basename(others[0]).decode()[:8], r.stderr)
        # The documented repair.
        self.v.bt("rebuild-index", expect=0)
        self.v.bt("check", "--read-data", expect=0)
        self.assertRestoresExactly(ids)

    def test_files_by_modification_date(self):
        good = [self.snap(b"a", 400_000), self.snap(b"b", 400_000)]
        # Whatever exists now was written "yesterday"; the bad job runs afterwards.
        yesterday = time.time() - 86400
        for dirpath, _dirs, names in os.walk(self.v.path):
            for n in names:
                os.utime(os.path.join(dirpath, n), (yesterday, yesterday))
        job_start = time.time() - 1
        bad = self.snap(b"c", 400_000)
        # The procedure: delete everything modified after the job started, then repair.
        cmd = (f"find data index snapshots packindex -type f -newermt @{int(job_start)} "
               "-print -delete")
        r = harness.run(["sh", "-c", cmd], cwd=self.v.path)
        self.assertExit(r, 0)
        deleted = r.stdout.split()
        self.assertIn(f"snapshots/{bad}", deleted)
        self.assertTrue(any(p.startswith("data/") for p in deleted), deleted)
        self.assertTrue(any(p.startswith("index/") for p in deleted), deleted)
        self.v.bt("rebuild-index", expect=0)
        r = self.v.bt("retention")
        self.assertExit(r, 0)
        self.assertSnapshotIds(good)
        self.v.bt("check", "--read-data", expect=0)
        self.assertRestoresExactly(good)

    def test_missing_index_and_packindex_files(self):
        ids = [self.snap(b"a", 300_000), self.snap(b"b", 300_000), self.snap(b"c", 300_000)]
        for kind in ("index", "packindex"):
            for p in self.v.files(kind):
                os.unlink(p)
        r = self.v.bt("check")
        self.assertExit(r, 1, "packs that no index lists, snapshots whose blobs are not indexed")
        # Without an index the retention pass cannot vouch for any snapshot and prunes nothing.
        before = sorted(self.v.files("data"))
        r = self.v.bt("retention")
        self.assertExit(r, 1)
        for sid in ids:
            self.assertIn(f"<snapshot/{sid[:8]}> depends on missing", r.stderr)
        self.assertEqual(sorted(self.v.files("data")), before)
        # The documented repair: rebuild-index, then a retention pass writes the packindex.
        self.v.bt("rebuild-index", expect=0)
        r = self.v.bt("retention")
        self.assertExit(r, 0)
        self.assertIn("wrote the packindex of 3 snapshots", r.stdout)
        self.assertEqual(len(self.v.files("packindex")), 3)
        self.assertEqual(sorted(self.v.files("data")), before, "nothing was unused")
        self.v.bt("check", "--read-data", expect=0)
        self.assertRestoresExactly(ids)

    def test_unlock_removes_only_stale_locks_unless_unsafe(self):
        if not harness.OPTIONS.craft_snapshot:
            self.skipTest("needs --craft-snapshot")
        ids = [self.snap(b"a", 100_000)]

        def lock(age_seconds, host="other-host", pid=4242):
            t = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(time.time() - age_seconds))
            return json.dumps({"time": t, "exclusive": True, "hostname": host,
                               "username": "mallory", "pid": pid}, separators=(",", ":"))

        _stale, live = self.craft({"locks": [lock(31 * 60), lock(0)]})["locks"]
        r = self.v.bt("backup", self.src)
        self.assertExit(r, 11)
        self.assertIn("locked exclusively by PID 4242 on other-host", r.stderr)
        r = self.v.bt("unlock")
        self.assertExit(r, 0)
        left = sorted(os.path.basename(p).decode() for p in self.v.files("locks"))
        self.assertEqual(left, [live], "only the stale lock goes")
        self.assertExit(self.v.bt("backup", self.src), 11)
        r = self.v.bt("unlock", "--unsafe")
        self.assertExit(r, 0)
        self.assertIn("data", r.stderr.lower(), "a warning about data loss")
        self.assertEqual(self.v.files("locks"), [])
        _, s = self.v.backup(self.src)
        self.saved[s["snapshot_id"]] = self.saved[ids[0]]
        self.assertRestoresExactly(ids + [s["snapshot_id"]])


if __name__ == "__main__":
    harness.main()
