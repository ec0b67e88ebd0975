#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Job states halleyd generates itself (docs/server.md "Server-generated jobs"): a running job
whose device stops reporting becomes abandoned (7007) after AbandonJobsAfterSeconds and is
revived (6002) when it reports again, also a real backup-tool killed with SIGKILL mid-backup;
admin/job/abandon; and a device's schedule plan (user/web/device/schedule-plan) turns a due
time with no backup into a missed job (7004), while a time a job started at gives none.

  python3 tests/integration/test_server_jobs.py --backup-tool PATH --halleyd PATH
"""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import HalleydTestCase, config as server_config, setup_admin  # noqa: E402
from test_managed import USER, USER_PASSWORD, Device  # noqa: E402

ABANDON_AFTER = 10  # AbandonJobsAfterSeconds (the minimum)
DEVICE = "device-1"


class ServerJobs(HalleydTestCase):
    def setUp(self):
        super().setUp()
        cfg = server_config()
        cfg["AuthenticationRole"].update(AbandonJobsAfterSeconds=ABANDON_AFTER,
                                         MissedBackupGraceSeconds=0)
        self.server = self.start(config=cfg)
        self.started = time.time()
        self.admin = setup_admin(self.server)
        self.admin_api("admin/add-user", TargetUser=USER, TargetPassword=USER_PASSWORD)
        reply = self.user_api("user/web/session/start", auth=(USER, USER_PASSWORD))
        self.session = {"Username": USER, "AuthType": "SessionKey",
                        "SessionKey": reply["SessionKey"]}
        self.user_api("user/web/register-device", DeviceID=DEVICE, FriendlyName="test")

    def user_api(self, endpoint, expect=200, auth=None, **form):
        creds = {} if auth else self.session
        status, reply = self.server.api(endpoint, auth=auth, **creds, **form)
        self.assertEqual(status, expect, reply)
        return reply

    def job(self, guid):
        return self.admin_api("admin/get-job-properties", JobID=guid)

    def jobs(self):
        return self.admin_api("admin/get-jobs-for-user", TargetUser=USER)

    def log(self, guid):
        return self.admin_api("admin/get-job-log-entries", JobID=guid)

    def start_job(self, source="item-1", destination="vault-1", classification=4001):
        return self.user_api("user/web/job/start", Job={
            "Classification": classification, "SourceGUID": source,
            "DestinationGUID": destination, "DeviceID": DEVICE})["JobID"]

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            got = predicate()
            if got:
                return got
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.5)

    def wait_status(self, guid, status, timeout):
        return self.wait_for(lambda: (lambda j: j if j["Status"] == status else None)(
            self.job(guid)), timeout, f"job {guid} to become {status}")

    # ------------------------------------------------------------------------------------
    def test_a_silent_job_is_abandoned_and_revived_when_it_reports_again(self):
        guid = self.start_job()
        self.assertEqual(self.job(guid)["Status"], 6001)
        # Reports every 2 s keep it running past the timeout.
        counter = 0
        while time.time() < self.started + ABANDON_AFTER + 4:
            counter += 1
            self.user_api("user/web/job/progress", JobID=guid, Progress={"Counter": counter})
            time.sleep(2)
        counter += 1
        self.user_api("user/web/job/log", JobID=guid,
                      Entries=[{"Severity": "I", "Message": "still here"}])
        last_report = time.monotonic()
        self.assertEqual(self.job(guid)["Status"], 6001)

        job = self.wait_status(guid, 7007, timeout=ABANDON_AFTER + 15)
        silent = time.monotonic() - last_report
        self.assertGreaterEqual(silent, ABANDON_AFTER - 1)
        self.assertGreater(job["EndTime"], 0)
        errors = [e["Message"] for e in self.log(guid) if e["Severity"] == "E"]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("stopped reporting", errors[0])
        self.assertIn("job_abandoned", [e.get("event") for e in self.server.log_entries()])

        # It reports again: revived, running, and it can finish.
        self.user_api("user/web/job/progress", JobID=guid, Progress={"Counter": counter + 1})
        job = self.job(guid)
        self.assertEqual((job["Status"], job["EndTime"]), (6002, 0))
        self.assertTrue(any("revived" in e["Message"] for e in self.log(guid)))
        self.user_api("user/web/job/finish", JobID=guid, Status=5000, Job={"TotalFiles": 3})
        job = self.job(guid)
        self.assertEqual((job["Status"], job["TotalFiles"]), (5000, 3))
        self.assertGreater(job["EndTime"], 0)

    def test_an_admin_abandons_a_running_job(self):
        guid = self.start_job()
        self.admin_api("admin/job/abandon", expect=400, TargetUser=USER)  # no JobID
        self.admin_api("admin/job/abandon", expect=404, TargetUser=USER, JobID="no-such-job")
        self.admin_api("admin/add-user", TargetUser="bob", TargetPassword="bob's password")
        self.admin_api("admin/job/abandon", expect=404, TargetUser="bob", JobID=guid)
        self.admin_api("admin/job/abandon", TargetUser=USER, JobID=guid)
        job = self.job(guid)
        self.assertEqual(job["Status"], 7007)
        self.assertGreater(job["EndTime"], 0)
        self.assertTrue(any(e["Severity"] == "E" and "administrator 'admin'" in e["Message"]
                            for e in self.log(guid)), self.log(guid))
        self.admin_api("admin/job/abandon", expect=400, TargetUser=USER, JobID=guid)
        # A device that was still running it reports: revived.
        self.user_api("user/web/job/log", JobID=guid,
                      Entries=[{"Severity": "I", "Message": "uploading"}])
        self.assertEqual(self.job(guid)["Status"], 6002)
        self.user_api("user/web/job/finish", JobID=guid, Status=7002)
        self.admin_api("admin/job/abandon", expect=400, TargetUser=USER, JobID=guid)
        # A user cannot call the admin API.
        status, _ = self.server.api("admin/job/abandon", **self.session, TargetUser=USER,
                                    JobID=guid)
        self.assertEqual(status, 401)

    def test_a_backup_killed_mid_job_is_abandoned(self):
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        vault = d.json("vault", "request", "--name", "v")["id"]
        src = self.wd.mkdir("src")
        harness.write_file(os.path.join(src, b"data"),
                           harness.pseudo_random_bytes(self.rng, 12 << 20))
        item = d.json("item", "add", "--name", "data", src)["id"]
        # About 48 s of uploading at 256 KiB/s: long enough to kill it mid-backup.
        p = subprocess.Popen([harness.OPTIONS.backup_tool, "--limit-upload", "256",
                              "--vault", "v", "backup", "--item", "data"],
                             env=d.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        running = self.wait_for(lambda: [j for j in self.jobs() if j["Status"] == 6001],
                                timeout=60, what="the backup's job to start")
        guid = running[0]["GUID"]
        self.wait_for(lambda: self.job(guid).get("Progress", {}).get("Counter", 0) >= 1,
                      timeout=30, what="a progress report")
        time.sleep(1)
        self.assertIsNone(p.poll(), "the backup ended before it could be killed")
        p.send_signal(signal.SIGKILL)
        p.communicate()
        killed = time.monotonic()
        job = self.wait_status(guid, 7007, timeout=ABANDON_AFTER + 20)
        self.assertGreaterEqual(time.monotonic() - killed, ABANDON_AFTER - 6)
        self.assertEqual((job["SourceGUID"], job["DestinationGUID"], job["DeviceID"]),
                         (item, vault, d.device_id()))

        # The device's plan had a run at the time this job started: it was on time (even
        # though it failed), so no missed job comes of it.
        self.user_api("user/web/device/schedule-plan", DeviceID=d.device_id(), Plan={
            "rule": {"Source": item, "Destination": vault, "Times": [job["StartTime"]]}})
        time.sleep(7)  # a sweep or more
        self.assertEqual([j for j in self.jobs() if j["Status"] == 7004], [])

    def test_a_planned_time_without_a_backup_becomes_a_missed_job(self):
        # Bounds and checks of the plan.
        plan = self.user_api  # shorthand
        plan("user/web/device/schedule-plan", expect=400, DeviceID=DEVICE, Plan=[1])
        plan("user/web/device/schedule-plan", expect=400, DeviceID=DEVICE, Plan={
            "r": {"Source": "i", "Destination": "v", "Times": list(range(65))}})
        plan("user/web/device/schedule-plan", expect=400, DeviceID=DEVICE, Plan={
            "r": {"Source": "i", "Destination": "v", "Times": [int(time.time()) + 40 * 86400]}})
        plan("user/web/device/schedule-plan", expect=400, DeviceID=DEVICE,
             Plan={"r": {"Source": "i", "Times": []}})
        plan("user/web/device/schedule-plan", expect=400, DeviceID=DEVICE,
             Plan={f"r{i}": {"Source": "i", "Destination": "v", "Times": []}
                   for i in range(1001)})
        plan("user/web/device/schedule-plan", expect=404, DeviceID="not-registered",
             Plan={"r": {"Source": "i", "Destination": "v", "Times": []}})

        # item-b's backup starts (and fails: still on time); item-a's never does.
        covered = self.start_job(source="item-b")
        self.user_api("user/web/job/finish", JobID=covered, Status=7002)
        started = self.job(covered)["StartTime"]
        # Times from before halleyd started are not judged (nobody could report then).
        time.sleep(max(0, self.started + 3 - time.time()))
        due = int(time.time()) - 2
        self.user_api("user/web/device/schedule-plan", DeviceID=DEVICE, Plan={
            "rule-a": {"Source": "item-a", "Destination": "vault-1", "Times": [due]},
            "rule-b": {"Source": "item-b", "Destination": "vault-1", "Times": [started]},
            "rule-later": {"Source": "item-c", "Destination": "vault-1",
                           "Times": [int(time.time()) + 3600]}})
        missed = self.wait_for(lambda: [j for j in self.jobs() if j["Status"] == 7004],
                               timeout=12, what="a missed job")
        self.assertEqual(len(missed), 1, missed)
        j = missed[0]
        self.assertEqual((j["Classification"], j["StartTime"], j["EndTime"], j["SourceGUID"],
                          j["DestinationGUID"], j["DeviceID"], j["BackupRuleGUID"]),
                         (4001, due, due, "item-a", "vault-1", DEVICE, "rule-a"))
        entries = self.log(j["GUID"])
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["Severity"], "E")
        self.assertIn("Missed: the scheduled backup did not start", entries[0]["Message"])
        self.assertIn("job_missed", [e.get("event") for e in self.server.log_entries()])
        time.sleep(6)  # judged once: later sweeps add nothing
        self.assertEqual(len([j for j in self.jobs() if j["Status"] == 7004]), 1)

        # With GenerateMissedBackupEvents off, a missed time gives no job.
        cfg = self.admin_api("admin/meta/server-config/get")
        cfg["AuthenticationRole"]["GenerateMissedBackupEvents"] = False
        self.admin_api("admin/meta/server-config/set", Config=cfg)
        self.user_api("user/web/device/schedule-plan", DeviceID=DEVICE, Plan={
            "rule-a": {"Source": "item-a", "Destination": "vault-1",
                       "Times": [int(time.time()) - 1]}})
        time.sleep(7)
        self.assertEqual(len([j for j in self.jobs() if j["Status"] == 7004]), 1)


if __name__ == "__main__":
    harness.main()
