#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Vault maintenance commands run with --vault report themselves as jobs of the account
(reference/comet.md §2.5, docs/client.md "Jobs"): `forget` by a policy and `prune` as retention
passes (4003), `forget ID` as a deletion of chosen snapshots (4005), `unlock` (4004),
`rebuild-index` (4009) and `check --read-data` as a deep verify (4010, with TotalChunks and
DownloadSize). A dry run and a plain `check` report no job. A `check --read-data` that finds a
damaged pack in the server's bucket ends its job with 7002 and an E line in its log.

  python3 tests/integration/test_vault_jobs.py --backup-tool PATH --halleyd PATH
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_managed import DeviceTestCase  # noqa: E402

RETENTION, UNLOCK, DELETE_CUSTOM, REINDEX, DEEP_VERIFY = 4003, 4004, 4005, 4009, 4010


class VaultJobs(DeviceTestCase):
    def new_jobs(self, seen):
        """The jobs not in `seen` (a set of GUIDs), which then holds them too."""
        out = [j for j in self.jobs() if j["GUID"] not in seen]
        seen.update(j["GUID"] for j in out)
        return out

    def only_new_job(self, seen, classification, status=5000):
        jobs = self.new_jobs(seen)
        self.assertEqual([(j["Classification"], j["Status"]) for j in jobs],
                         [(classification, status)], jobs)
        self.assertEqual(jobs[0]["DestinationGUID"], self.vault_id)
        self.assertNotEqual(jobs[0]["EndTime"], 0)
        return jobs[0]

    def backup(self, seen, name):
        harness.write_file(os.path.join(self.src, name),
                           harness.pseudo_random_bytes(self.rng, 200_000))
        self.device.bt("--vault", "v", "backup", "--item", "docs", expect=0)
        self.only_new_job(seen, 4001)

    def data_packs(self):
        """The data packs in the server's bucket directories, largest first."""
        packs = []
        for dirpath, _, names in os.walk(os.path.join(self.data, "storage")):
            if os.path.basename(os.path.dirname(dirpath)) != "data":
                continue
            packs += [os.path.join(dirpath, n) for n in names if len(n) == 64]
        return sorted(packs, key=os.path.getsize, reverse=True)

    # ------------------------------------------------------------------------------------
    def test_maintenance_commands_are_jobs(self):
        d = self.device
        self.vault_id = d.json("vault", "request", "--name", "v")["id"]
        self.src = os.fsdecode(self.wd.mkdir("src"))
        d.json("item", "add", "--name", "docs", self.src)
        seen = set()
        self.backup(seen, "one")
        self.backup(seen, "two")

        # A dry run changes nothing and reports no job.
        d.bt("--vault", "v", "forget", "--keep-last", "1", "--dry-run", expect=0)
        self.assertEqual(self.new_jobs(seen), [])

        # forget by a policy, with its prune: one retention pass.
        d.bt("--vault", "v", "forget", "--keep-last", "1", "--prune", expect=0)
        job = self.only_new_job(seen, RETENTION)
        messages = [e["Message"] for e in self.job_log(job)]
        self.assertTrue(any(m.startswith("removed 1 snapshots, kept 1") for m in messages),
                        messages)

        # forget by ID deletes chosen snapshots (4005); prune alone is a retention pass.
        self.backup(seen, "three")
        snaps = d.json("--vault", "v", "snapshots")
        self.assertEqual(len(snaps), 2, snaps)
        newest = max(snaps, key=lambda s: s["time"])["id"]
        d.bt("--vault", "v", "forget", newest, expect=0)
        job = self.only_new_job(seen, DELETE_CUSTOM)
        self.assertIn("removed 1 snapshots", [e["Message"] for e in self.job_log(job)])
        d.bt("--vault", "v", "prune", expect=0)
        self.only_new_job(seen, RETENTION)

        d.bt("--vault", "v", "unlock", expect=0)
        self.only_new_job(seen, UNLOCK)
        d.bt("--vault", "v", "rebuild-index", expect=0)
        self.only_new_job(seen, REINDEX)

        # A plain check reads no data: the product has no classification for it.
        d.bt("--vault", "v", "check", expect=0)
        self.assertEqual(self.new_jobs(seen), [])
        d.bt("--vault", "v", "check", "--read-data", expect=0)
        job = self.only_new_job(seen, DEEP_VERIFY)
        self.assertGreater(job.get("TotalChunks", 0), 0, job)
        self.assertGreater(job.get("DownloadSize", 0), 200_000, job)

        # A damaged pack: the deep verify fails (exit 1), its job ends as an error.
        packs = self.data_packs()
        self.assertTrue(packs, "no data pack under " + self.data)
        with open(packs[0], "r+b") as f:
            f.seek(os.path.getsize(packs[0]) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
        r = d.bt("--vault", "v", "check", "--read-data", expect=1)
        job = self.only_new_job(seen, DEEP_VERIFY, status=7002)
        errors = [e["Message"] for e in self.job_log(job) if e["Severity"] == "E"]
        self.assertTrue(errors, r.describe())

        # Each command reported exactly one job.
        counts = {}
        for j in self.jobs():
            counts[j["Classification"]] = counts.get(j["Classification"], 0) + 1
        self.assertEqual(counts, {4001: 3, RETENTION: 2, DELETE_CUSTOM: 1, UNLOCK: 1,
                                  REINDEX: 1, DEEP_VERIFY: 2})


if __name__ == "__main__":
    harness.main()
