#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Crash consistency (reliability.md B1; issue: "kill -9 of a backup at random points (20 runs):
earlier snapshots still restore and the next backup succeeds").

A ~150 MiB source (many small files and a few big random ones) is backed up once. Then each
run mutates the source (one big file rewritten, 1 % of the small files changed, a few added and
removed), starts a backup and SIGKILLs it after a seeded random delay. The delays are spread
over the duration of an uninterrupted backup of such a mutation (measured first): a quarter
early (start-up, lock, index, walking), half mid-upload, a quarter very late (flush, index and
snapshot writes, or just after). After each kill:
  * `restic unlock` removes the stale lock of the dead process, and `restic check` (index,
    packs, every snapshot's trees and blobs) exits 0 with no error lines (packs left
    unreferenced by the killed run are information, not errors);
  * the newest completed snapshot (whose packs sit beside whatever the killed run left) restores
    bit-identical to the manifest recorded when it was made;
  * if the killed backup got as far as writing its snapshot, that snapshot is complete too;
  * the next backup-tool backup exits 0 (its snapshot joins the completed ones).
Finally `restic check --read-data` verifies every pack and blob, and every completed snapshot
is restored and compared with its manifest. (Restoring all of them after every run would cost
O(runs^2) restores of 150 MiB; a killed backup only adds files, so the final pass sees every
snapshot after all the kills.)

  python3 tests/integration/test_crash.py --backup-tool PATH [--runs 20] [--seed N]
"""

import concurrent.futures
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SMALL_FILES = 2400
SMALL_DIRS = 40
BIG_FILES = 4
BIG_SIZE = 30 << 20


@unittest.skipUnless(harness.find_restic(), "restic is not installed")
class KillDuringBackup(harness.TestCase):
    def make_source(self, rng):
        src = self.wd.sub("src")
        os.mkdir(src)
        self.small = []
        for d in range(SMALL_DIRS):
            dd = os.path.join(src, b"dir%02d" % d)
            os.mkdir(dd)
            for f in range(SMALL_FILES // SMALL_DIRS):
                p = os.path.join(dd, b"f%03d" % f)
                harness.write_file(p, harness.pseudo_random_bytes(rng, rng.randrange(100, 25000)))
                self.small.append(p)
        self.big = []
        for i in range(BIG_FILES):
            p = os.path.join(src, b"big%d.bin" % i)
            harness.write_file(p, harness.pseudo_random_bytes(rng, BIG_SIZE))
            self.big.append(p)
        return src

    def mutate(self, rng, run):
        big = self.big[run % len(self.big)]
        harness.write_file(big, harness.pseudo_random_bytes(rng, BIG_SIZE))
        for p in rng.sample(self.small, len(self.small) // 100):
            with open(p, "ab") as f:
                f.write(harness.pseudo_random_bytes(rng, rng.randrange(1, 5000)))
        for _ in range(3):
            d = os.path.dirname(rng.choice(self.small))
            p = os.path.join(d, b"new-%d-%d" % (run, rng.randrange(10**9)))
            harness.write_file(p, harness.pseudo_random_bytes(rng, rng.randrange(0, 20000)))
            self.small.append(p)
        for _ in range(2):
            p = self.small.pop(rng.randrange(len(self.small)))
            os.unlink(p)

    def verify_snapshot(self, v, snap, src, why):
        target = self.wd.sub("verify-" + snap[:8])
        r = v.restore(f"{snap}:{os.fsdecode(src)}", target)
        self.assertExit(r, 0, f"restore of snapshot {snap[:8]} ({why})")
        diffs = harness.compare_manifest(self.manifests[snap], target)
        harness.rmtree(target)
        self.assertEqual(diffs[:50], [], f"snapshot {snap[:8]} ({why}) restored with "
                         f"{len(diffs)} differences")

    def check_vault(self, v, read_data=False):
        r = v.restic("unlock")
        self.assertExit(r, 0, "restic unlock")
        v.restic_check(read_data=read_data)

    def test_kill9_during_backup(self):
        runs = harness.OPTIONS.runs or 20
        rng, seed = harness.seeded_rng("KillDuringBackup")
        t_start = time.monotonic()
        src = self.make_source(rng)
        v = self.new_vault()
        self.manifests = {}
        r, s = v.backup(src)
        self.manifests[s["snapshot_id"]] = harness.manifest(src)
        harness.log(f"initial backup of ~{(SMALL_FILES * 12500 + BIG_FILES * BIG_SIZE) >> 20} "
                    f"MiB: {r.seconds:.1f}s")
        # How long does a backup of one run's mutation take? (This run is not killed.)
        self.mutate(rng, -1)
        r, s = v.backup(src)
        self.manifests[s["snapshot_id"]] = harness.manifest(src)
        duration = max(r.seconds, 0.05)
        harness.log(f"backup of one mutation: {duration:.2f}s")

        stats = {"killed": 0, "finished_before_kill": 0, "snapshot_by_killed": 0}
        for run in range(runs):
            t_run = time.monotonic()
            self.mutate(rng, run)
            bucket = ("early", "mid", "mid", "late")[run % 4]
            lo, hi = {"early": (0.0, 0.15), "mid": (0.2, 0.8), "late": (0.85, 1.15)}[bucket]
            delay = rng.uniform(lo, hi) * duration
            before = set(harness.snapshot_ids(v))
            p = v.popen_bt("backup", src)
            time.sleep(delay)
            rc = p.poll()
            if rc is None:
                p.send_signal(signal.SIGKILL)
                stats["killed"] += 1
            out, err = p.communicate()
            if rc is None and p.returncode != -signal.SIGKILL:
                rc = p.returncode  # it finished between poll() and kill()
            if rc is not None and rc != 0 and rc != -signal.SIGKILL:
                self.fail(f"run {run}: backup failed on its own (exit {rc}): {err.decode()}")
            if rc == 0:
                stats["finished_before_kill"] += 1
            new = set(harness.snapshot_ids(v)) - before
            self.assertLessEqual(len(new), 1)
            for snap in new:
                # The killed backup got as far as its snapshot: it must be complete.
                stats["snapshot_by_killed"] += rc != 0
                self.manifests[snap] = harness.manifest(src)
            leftovers = [f for f in v.files("")
                         if os.path.basename(f).startswith(b".tmp-")]
            t_kill = time.monotonic()

            self.check_vault(v)
            t_check = time.monotonic()
            # The newest completed snapshot: its packs sit next to whatever the killed run left.
            # (Every completed snapshot is restored again at the end.)
            completed = list(self.manifests)  # in the order they were made
            self.verify_snapshot(v, completed[-1], src, f"run {run}, newest")
            t_verify = time.monotonic()
            r, s = v.backup(src, expect=None)
            self.assertExit(r, 0, f"run {run}: the backup after a kill failed")
            self.manifests[s["snapshot_id"]] = harness.manifest(src)
            # This backup redid what the killed one was doing: a better estimate of how long
            # an uninterrupted run takes, for the next delays.
            duration = 0.5 * duration + 0.5 * max(r.seconds, 0.05)
            harness.log(f"run {run + 1}/{runs}: {bucket} kill after {delay:.2f}s "
                        f"(exit {'killed' if rc is None or rc < 0 else rc}), "
                        f"{len(new)} new snapshot(s), {len(leftovers)} temp files in the vault; "
                        f"phases: mutate+kill {t_kill - t_run:.1f}s, unlock+check "
                        f"{t_check - t_kill:.1f}s, restore+compare {t_verify - t_check:.1f}s, "
                        f"next backup {r.seconds:.1f}s")

        harness.log(f"{runs} runs: {stats}; verifying all {len(self.manifests)} snapshots")
        self.check_vault(v, read_data=True)
        listed = set(harness.snapshot_ids(v))
        self.assertEqual(listed, set(self.manifests), "snapshots appeared or vanished")
        t_final = time.monotonic()
        # Two restores at a time (restores take shared locks and may run together).
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(self.verify_snapshot, v, snap, src, "final pass")
                       for snap in self.manifests]
            for f in futures:
                f.result()
        leftovers = [os.path.relpath(f, v.path).decode() for f in v.files("")
                     if os.path.basename(f).startswith(b".tmp-")]
        harness.log(f"final pass {time.monotonic() - t_final:.0f}s; temporary files left in "
                    f"the vault by killed runs: {leftovers}")
        harness.log(f"total {time.monotonic() - t_start:.0f}s")
        self.assertGreater(stats["killed"], runs // 2, "most backups finished before the "
                           "kill: the delays do not cover the backup")


if __name__ == "__main__":
    harness.main()
