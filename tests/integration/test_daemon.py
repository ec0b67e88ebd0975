#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`backup-tool daemon` against a real halleyd: Schedules added with `schedule add` fire on
their own and their runs appear on the server as jobs with counts (5000); a run due while the
previous one still goes is skipped and reported (7006) with SkipAlreadyRunning; a run past its
StopAfter is stopped and reported (7005); a schedule removed from the profile stops firing;
SIGTERM stops the daemon, which interrupts its runs and exits 0.

  python3 tests/integration/test_daemon.py --backup-tool PATH --halleyd PATH
"""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import HalleydTestCase, setup_admin  # noqa: E402
from test_managed import USER, USER_PASSWORD, Device  # noqa: E402


class Daemon(HalleydTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.start()
        self.admin = setup_admin(self.server)
        self.admin_api("admin/add-user", TargetUser=USER, TargetPassword=USER_PASSWORD)
        self.device = Device(self.wd.path, "laptop")
        self.device.login(self.server)
        self.device.bt("vault", "request", "--name", "v", expect=0)
        self.daemons = []

    def tearDown(self):
        for p in self.daemons:
            if p.poll() is None:
                p.kill()
                p.communicate()
        super().tearDown()

    def admin_api(self, endpoint, expect=200, **form):
        status, reply = self.server.api(endpoint, auth=self.admin, **form)
        self.assertEqual(status, expect, reply)
        return reply

    def jobs(self):
        return self.admin_api("admin/get-jobs-for-user", TargetUser=USER)

    def item(self, name, size):
        src = self.wd.mkdir(name)
        harness.write_file(os.path.join(src, b"data"), harness.pseudo_random_bytes(self.rng, size))
        self.device.bt("item", "add", "--name", name, src, expect=0)
        return src

    def start_daemon(self, *global_args):
        argv = [harness.OPTIONS.backup_tool, *global_args, "daemon", "--poll-seconds", "1"]
        p = subprocess.Popen(argv, env=self.device.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.daemons.append(p)
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
                       "--periodic", "3", expect=0)
        r = self.device.bt("schedule", "list", expect=0)
        self.assertIn("often", r.stdout)
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


if __name__ == "__main__":
    harness.main()
