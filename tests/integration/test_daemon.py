#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`backup-tool daemon` against a real halleyd: Schedules added with `schedule add` fire on
their own and their runs appear on the server as jobs with counts (5000); a run due while the
previous one still goes is skipped and reported (7006) with SkipAlreadyRunning; a run past its
StopAfter is stopped and reported (7005); a schedule removed from the profile stops firing;
SIGTERM stops the daemon, which interrupts its runs and exits 0.

  python3 tests/integration/test_daemon.py --backup-tool PATH --halleyd PATH
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_managed import USER, DeviceTestCase  # noqa: E402


class Daemon(DeviceTestCase):
    def setUp(self):
        super().setUp()
        self.device.bt("vault", "request", "--name", "v", expect=0)

    def item(self, name, size):
        src = self.wd.mkdir(name)
        harness.write_file(os.path.join(src, b"data"), harness.pseudo_random_bytes(self.rng, size))
        self.device.bt("item", "add", "--name", name, src, expect=0)
        return src

    def start_daemon(self, *global_args):
        argv = [harness.OPTIONS.backup_tool, *global_args, "daemon", "--poll-seconds", "1"]
        p = subprocess.Popen(argv, env=self.device.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def stop_daemon(self, p):
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
        return err.decode(errors="replace")

    def wait_jobs(self, predicate, timeout=120, what="jobs"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs()
            if predicate(jobs):
                return jobs
            time.sleep(0.5)
        self.fail(f"timed out waiting for {what}: {jobs}")

    # ------------------------------------------------------------------------------------
    def test_a_schedule_fires_on_its_own_and_is_reported(self):
        src = self.item("docs", 200_000)
        self.device.bt("schedule", "add", "--name", "often", "--item", "docs", "--vault", "v",
                       "--periodic", "3", "--pre-exec", "true", expect=0)
        r = self.device.bt("schedule", "list", expect=0)
        self.assertIn("often", r.stdout)
        self.assertIn("pre-exec true", r.stdout)
        self.assertNotIn("never", r.stdout)
        p = self.start_daemon()
        jobs = self.wait_jobs(lambda js: sum(j["Status"] == 5000 for j in js) >= 2,
                              what="two successful runs")
        done = [j for j in jobs if j["Status"] == 5000]
        self.assertEqual(done[0]["Classification"], 4001)
        self.assertEqual(done[0]["TotalFiles"], 1)
        self.assertGreaterEqual(done[0]["TotalSize"], 200_000)
        # Removed from the profile: no more runs once the daemon has read it again.
        self.device.bt("schedule", "remove", "often", expect=0)
        time.sleep(3)  # a run may have started before the daemon read the profile
        settled = len(self.wait_jobs(lambda js: all(j["Status"] != 6001 for j in js)))
        time.sleep(5)
        self.assertEqual(len(self.jobs()), settled)
        err = self.stop_daemon(p)
        self.assertIn("schedule \"often\"", err)
        snapshots = self.device.bt("--vault", "v", "--json", "snapshots", expect=0)
        self.assertGreaterEqual(snapshots.stdout.count('"id"'), 2)
        self.assertTrue(os.path.exists(src))

    def test_skip_already_running_and_stop_after(self):
        # 3 MiB at 256 KiB/s: each run takes about 12 s.
        self.item("big", 3 << 20)
        self.device.bt("schedule", "add", "--name", "skipper", "--item", "big", "--vault", "v",
                       "--periodic", "4", "--skip-already-running", "--stop-after", "7",
                       "--limit-upload", "256", expect=0)
        p = self.start_daemon()
        jobs = self.wait_jobs(lambda js: any(j["Status"] == 7006 for j in js) and
                              any(j["Status"] == 7005 for j in js),
                              what="a skipped (7006) and a stopped (7005) run")
        skipped = next(j for j in jobs if j["Status"] == 7006)
        log = self.admin_api("admin/get-job-log-entries", JobID=skipped["GUID"])
        self.assertTrue(any("still running" in e["Message"] for e in log), log)
        err = self.stop_daemon(p)
        self.assertIn("time limit", err)
        # Every run ended: nothing is left running or locked.
        self.assertTrue(all(j["Status"] != 6001 for j in self.jobs()), self.jobs())
        self.device.bt("--vault", "v", "check", expect=0)

    def test_sigterm_interrupts_a_run_which_reports_7005(self):
        self.item("slow", 4 << 20)
        self.device.bt("schedule", "add", "--name", "slow", "--item", "slow", "--vault", "v",
                       "--periodic", "2", expect=0)
        p = self.start_daemon("--limit-upload", "128")
        self.wait_jobs(lambda js: any(j["Status"] == 6001 for j in js), what="a running job")
        time.sleep(1)
        self.stop_daemon(p)
        jobs = self.jobs()
        self.assertEqual([j["Status"] for j in jobs], [7005], jobs)
        self.device.bt("--vault", "v", "check", expect=0)

    def set_retention(self, vault_name, keep_jobs):
        profile = self.admin_api("admin/get-user-profile", TargetUser=USER)
        vid = next(k for k, v in profile["Destinations"].items()
                   if v["Description"] == vault_name)
        profile["Destinations"][vid]["DefaultRetention"] = {
            "Mode": 802, "Ranges": [{"Type": 900, "Jobs": keep_jobs}]}
        self.admin_api("admin/set-user-profile", TargetUser=USER, ProfileData=json.dumps(profile))

    def snapshot_count(self):
        r = self.device.bt("--vault", "v", "--retry-lock", "60", "--json", "snapshots", expect=0)
        return len(json.loads(r.stdout))

    def test_boot_triggers_and_retention_after_backup(self):
        self.item("docs", 100_000)
        self.device.bt("--vault", "v", "backup", "--item", "docs", expect=0)
        self.set_retention("v", 1)
        self.device.bt("schedule", "add", "--name", "boot", "--item", "docs", "--vault", "v",
                       "--once", "2099-01-01 03:00", "--on-boot", "--one-disk-thread",
                       "--retention-after", "1", expect=0)
        # Rules on another vault: one due 2 s from now while the daemon is not running
        # (missed), one due later (not missed); only the first has the missed-run trigger.
        self.device.bt("vault", "request", "--name", "w", expect=0)
        self.item("other", 1000)
        self.device.bt("schedule", "add", "--name", "missed", "--item", "other", "--vault", "w",
                       "--once", str(int(time.time()) + 2), "--on-boot-if-missed", expect=0)
        self.device.bt("schedule", "add", "--name", "quiet", "--item", "other", "--vault", "w",
                       "--once", str(int(time.time()) + 3600), "--on-boot-if-missed", expect=0)
        time.sleep(3)
        p = self.start_daemon()
        self.wait_jobs(lambda js: sum(j["Status"] == 5000 and j["Classification"] == 4001
                                      for j in js) >= 3,
                       what="the boot run and the missed run")
        # The boot run's retention pass (keep 1 job) leaves one snapshot in "v".
        deadline = time.monotonic() + 60
        while self.snapshot_count() != 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        count = self.snapshot_count()
        err = self.stop_daemon(p)
        self.assertEqual(count, 1, err)
        self.assertIn("run when the device starts", err)
        self.assertIn("the last run was missed", err)
        self.assertNotIn("schedule \"quiet\": running at start", err)
        self.assertIn("applying the vault's retention policy", err)
        jobs = self.jobs()
        self.assertEqual(sum(j["Status"] == 5000 and j["Classification"] == 4001 for j in jobs),
                         3, jobs)
        # The retention pass is a job of its own (4003).
        self.assertTrue(any(j["Status"] == 5000 and j["Classification"] == 4003 for j in jobs),
                        jobs)

    def test_a_failed_run_is_retried(self):
        self.device.bt("item", "add", "--name", "gone", os.path.join(self.wd.path, b"missing"),
                       expect=0)
        self.device.bt("schedule", "add", "--name", "flaky", "--item", "gone", "--vault", "v",
                       "--once", "2099-01-01 03:00", "--on-boot", "--retry", "1",
                       "--retry-minutes", "1", expect=0)
        p = self.start_daemon()
        self.wait_jobs(lambda js: len(js) >= 2 and all(j["Status"] == 7002 for j in js),
                       timeout=150, what="the failed run and its retry")
        time.sleep(3)
        err = self.stop_daemon(p)
        self.assertIn("retry 1 of 1 in 1 minute(s)", err)
        self.assertEqual(len(self.jobs()), 2, self.jobs())

    def use_fast_job_checks(self):
        cfg = self.admin_api("admin/meta/server-config/get")
        cfg["AuthenticationRole"].update(AbandonJobsAfterSeconds=10, MissedBackupGraceSeconds=0)
        self.admin_api("admin/meta/server-config/set", Config=json.dumps(cfg))

    def test_killed_daemon_gives_7007_and_missed_run_7004(self):
        self.use_fast_job_checks()
        self.item("slow", 4 << 20)
        self.device.bt("schedule", "add", "--name", "slow", "--item", "slow", "--vault", "v",
                       "--periodic", "2", expect=0)
        p = self.start_daemon("--limit-upload", "128")
        self.wait_jobs(lambda js: any(j["Status"] == 6001 for j in js), what="a running job")
        # Due in 20 s: reported in the daemon's plan, then the device goes off.
        self.device.bt("schedule", "add", "--name", "later", "--item", "slow", "--vault", "v",
                       "--once", str(int(time.time()) + 20), expect=0)
        time.sleep(3)  # the daemon reads the rule and reports its plan
        p.kill()  # kill -9: its run dies with it and reports nothing more
        p.communicate()
        jobs = self.wait_jobs(lambda js: any(j["Status"] == 7007 for j in js), timeout=60,
                              what="the killed run marked abandoned (7007)")
        self.assertFalse(any(j["Status"] == 6001 for j in jobs), jobs)
        jobs = self.wait_jobs(lambda js: any(j["Status"] == 7004 for j in js), timeout=60,
                              what="the missed run (7004)")
        missed = next(j for j in jobs if j["Status"] == 7004)
        self.assertEqual(missed["Classification"], 4001)
        self.device.bt("--vault", "v", "unlock", expect=0)


if __name__ == "__main__":
    harness.main()
