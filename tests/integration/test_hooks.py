#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Before/after commands (PreExec, ThawExec, PostExec of Schedules, Storage Vaults and Protected
Items) in managed backups against a real halleyd: stderr output or a non-zero exit makes the job
a warning (7001) while the backup still runs, the commands' output is in the job log (stdout as
I, stderr as W), PostExec runs after a failed or cancelled backup, the order is Schedule, Vault,
Item (PostExec reversed), a command writing 5 MB does not hang the job; and the job's events
50/52/51 reach a listening journal with their structured fields (when this test may mount a
fake journald socket in a private mount namespace: root only).

  python3 tests/integration/test_hooks.py --backup-tool PATH --halleyd PATH
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_managed import USER, DeviceTestCase  # noqa: E402

# Records what each command saw: one line per command run.
SEEN = 'echo "{who} $HALLEY_PHASE" >> "{marks}"'


class Hooks(DeviceTestCase):
    def setUp(self):
        super().setUp()
        self.marks = os.fsdecode(self.wd.sub("marks"))

    def only_job(self, item_id):
        jobs = [j for j in self.jobs() if j["SourceGUID"] == item_id]
        self.assertEqual(len(jobs), 1, jobs)
        return jobs[0]

    def source(self, name="src"):
        src = self.wd.mkdir(name)
        harness.write_file(os.path.join(src, b"data"), harness.pseudo_random_bytes(self.rng, 50_000))
        return os.fsdecode(src)

    def vault(self, *args):
        return self.device.json("vault", "request", "--name", "v", *args)["id"]

    def item(self, name, path, *args):
        return self.device.json("item", "add", "--name", name, path, *args)["id"]

    def read_marks(self):
        if not os.path.exists(self.marks):
            return []
        with open(self.marks) as f:
            return f.read().splitlines()

    def assertLogged(self, log, severity, text):
        self.assertTrue(any(e["Severity"] == severity and text in e["Message"] for e in log),
                        f"no {severity} entry with {text!r} in {json.dumps(log, indent=1)}")

    # ------------------------------------------------------------------------------------
    def test_stderr_or_a_nonzero_exit_is_a_warning_and_the_backup_still_runs(self):
        self.vault()
        noisy = self.item("noisy", self.source("a"), "--pre-exec",
                          "echo 'dumping the database'; echo 'dump: table locked' >&2")
        failing = self.item("failing", self.source("b"), "--pre-exec", "exit 4",
                            "--post-exec", "/nonexistent/halley-cleanup")
        r = self.device.bt("--vault", "v", "backup", "--item", "noisy", expect=3)
        self.assertIn("Running before-backup command (Protected Item \"noisy\")", r.stdout)
        self.assertIn("dump: table locked", r.stderr)
        job = self.only_job(noisy)
        self.assertEqual((job["Classification"], job["Status"]), (4001, 7001), job)
        self.assertNotEqual(job["SnapshotID"], "")  # a PreExec warning does not stop the backup
        log = self.job_log(job)
        self.assertLogged(log, "I", "Running before-backup command (Protected Item \"noisy\"): "
                                    "echo 'dumping the database'")
        self.assertLogged(log, "I", "dumping the database")
        self.assertLogged(log, "W", "dump: table locked")
        self.assertLogged(log, "W", "wrote to stderr")
        order = [e["Message"] for e in log]
        self.assertLess(order.index("dumping the database"),
                        next(i for i, m in enumerate(order) if m.startswith("snapshot ")))

        r = self.device.bt("--vault", "v", "backup", "--item", "failing", expect=3)
        job = self.only_job(failing)
        self.assertEqual(job["Status"], 7001, job)
        log = self.job_log(job)
        self.assertLogged(log, "W", "before-backup command (Protected Item \"failing\") exited "
                                    "with code 4: exit 4")
        self.assertLogged(log, "W", "exited with code 127 (command not found)")
        self.assertNotEqual(job["SnapshotID"], "")

    def test_stdout_and_exit_zero_is_a_success_with_the_output_logged(self):
        self.vault()
        quiet = self.item("quiet", self.source(), "--pre-exec", "echo hello from pre-exec",
                          "--post-exec", "echo bye; exit 0")
        r = self.device.bt("--vault", "v", "backup", "--item", "quiet", expect=0)
        self.assertIn("hello from pre-exec", r.stdout)
        job = self.only_job(quiet)
        self.assertEqual(job["Status"], 5000, job)
        log = self.job_log(job)
        self.assertLogged(log, "I", "hello from pre-exec")
        self.assertLogged(log, "I", "Running after-backup command (Protected Item \"quiet\"): "
                                    "echo bye")
        self.assertLogged(log, "I", "bye")
        self.assertFalse([e for e in log if e["Severity"] in ("W", "E")], log)
        # --json keeps stdout for JSON lines.
        r = self.device.bt("--json", "--vault", "v", "backup", "--item", "quiet", expect=0)
        for line in r.stdout.splitlines():
            json.loads(line)

    def test_post_exec_runs_after_a_failed_or_cancelled_backup(self):
        vault_id = self.vault("--post-exec", SEEN.format(who="vault", marks=self.marks))
        missing = os.fsdecode(self.wd.sub("missing"))
        post = ('echo "item $HALLEY_PHASE $HALLEY_BACKUP_EXIT_CODE $HALLEY_JOB_ID $HALLEY_ITEM '
                f'$HALLEY_VAULT $HALLEY_ITEM_NAME" >> "{self.marks}"')
        gone = self.item("gone", missing, "--post-exec", post)
        self.device.bt("--vault", "v", "backup", "--item", "gone", expect=1)
        job = self.only_job(gone)
        self.assertEqual(job["Status"], 7002, job)  # a command cannot make an error better
        self.assertEqual(self.read_marks(),
                         [f"item post 1 {job['GUID']} {gone} {vault_id} gone", "vault post"])

        # Cancelled while a PreExec runs: it is stopped, the backup does not start, and the
        # PostExec commands still run, to their end.
        os.unlink(self.marks)
        slow = self.item("slow", self.source(), "--pre-exec",
                         f'echo started >> "{self.marks}"; sleep 60; echo never >> "{self.marks}"',
                         "--post-exec", f'sleep 1; echo "item-post $HALLEY_BACKUP_EXIT_CODE" >> '
                                        f'"{self.marks}"')
        argv = [harness.OPTIONS.backup_tool, "--vault", "v", "backup", "--item", "slow"]
        p = subprocess.Popen(argv, env=self.device.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while self.read_marks() != ["started"]:
            self.assertLess(time.monotonic(), deadline, "the PreExec did not start")
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, err.decode(errors="replace"))
        self.assertEqual(self.read_marks(), ["started", "item-post 130", "vault post"])
        job = self.only_job(slow)
        self.assertEqual((job["Status"], job.get("SnapshotID", "")), (7005, ""), job)
        log = self.job_log(job)
        self.assertLogged(log, "W", "was stopped (the job was cancelled)")
        self.assertLogged(log, "I", "Running after-backup command (Protected Item \"slow\")")

    def test_order_of_schedule_vault_and_item_commands(self):
        def phases(who):
            out = []
            for flag, phase in (("--pre-exec", "pre"), ("--thaw-exec", "thaw"),
                                ("--post-exec", "post")):
                out += [flag, SEEN.format(who=who, marks=self.marks)]
            return out
        src = self.source()
        self.vault(*phases("vault"))
        # The item's ThawExec writes into the item's folder just before reading starts: the
        # snapshot has it. Its PostExec removes it again.
        item = self.item("docs", src, *phases("item"),
                         "--thaw-exec", f'echo "$HALLEY_JOB_ID" > "{src}/dump.sql"',
                         "--post-exec", f'rm "{src}/dump.sql"')
        listed = [i for i in self.device.json("item", "list") if i["id"] == item][0]
        self.assertEqual(len(listed["thaw_exec"]), 2)
        self.assertEqual(listed["pre_exec"], [SEEN.format(who="item", marks=self.marks)])
        vaults = self.device.json("vault", "list")
        self.assertEqual(vaults[0]["post_exec"], [SEEN.format(who="vault", marks=self.marks)])

        # A Schedule's commands: set by editing the profile as an admin would (schedule add has
        # no flags for them yet).
        self.device.bt("schedule", "add", "--name", "nightly", "--item", "docs", "--vault", "v",
                       "--daily", "02:30", expect=0)
        profile = self.admin_api("admin/get-user-profile", TargetUser=USER)
        (rule_id, rule), = profile["BackupRules"].items()
        for field, phase in (("PreExec", "pre"), ("ThawExec", "thaw"), ("PostExec", "post")):
            rule[field] = [SEEN.format(who="schedule", marks=self.marks)]
        self.admin_api("admin/set-user-profile", TargetUser=USER, ProfileData=profile)

        self.device.bt("--vault", "v", "backup", "--item", "docs", "--schedule", "nightly",
                       expect=0)
        self.assertEqual(self.read_marks(), [
            "schedule pre", "vault pre", "item pre",
            "schedule thaw", "vault thaw", "item thaw",
            "item post", "vault post", "schedule post"])
        job = self.only_job(item)
        self.assertEqual(job["Status"], 5000, job)
        self.assertFalse(os.path.exists(os.path.join(src, "dump.sql")))
        target = self.wd.sub("restore")
        self.device.bt("--vault", "v", "restore", "latest", "--target", target, expect=0)
        with open(os.path.join(os.fsdecode(target), src.lstrip("/"), "dump.sql")) as f:
            self.assertEqual(f.read().strip(), job["GUID"])

        # Without --schedule (a backup by hand) the Schedule's commands do not run; --schedule
        # by ID works too, and an unknown one is refused before anything runs.
        os.unlink(self.marks)
        self.device.bt("--vault", "v", "backup", "--item", "docs", expect=0)
        self.assertEqual([m for m in self.read_marks() if m.startswith("schedule")], [])
        os.unlink(self.marks)
        self.device.bt("--vault", "v", "backup", "--item", "docs", "--schedule", rule_id,
                       expect=0)
        self.assertEqual(len(self.read_marks()), 9)
        os.unlink(self.marks)
        r = self.device.bt("--vault", "v", "backup", "--item", "docs", "--schedule", "nope",
                           expect=1)
        self.assertIn("nope", r.stderr)
        self.assertEqual(self.read_marks(), [])

    def test_a_command_writing_5_MB_does_not_hang(self):
        self.vault()
        big = self.item("big", self.source(), "--pre-exec",
                        "head -c 5000000 /dev/zero | tr '\\0' x | fold -w 100")
        start = time.monotonic()
        self.device.bt("--quiet", "--vault", "v", "backup", "--item", "big", expect=0,
                       timeout=120)
        self.assertLess(time.monotonic() - start, 120)
        job = self.only_job(big)
        self.assertEqual(job["Status"], 5000, job)
        log = self.job_log(job)
        self.assertLogged(log, "I", "x" * 100)
        self.assertLogged(log, "I", "[output truncated: ")
        # The job log keeps a bounded part (64 KiB), not 5 MB.
        self.assertLess(sum(len(e["Message"]) for e in log), 100_000)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"),
                         "needs root and unshare(1) for a private fake journald socket")
    def test_job_events_reach_journald(self):
        probe = subprocess.run(["unshare", "--mount", "sh", "-c",
                                "mount -t tmpfs tmpfs /run/systemd 2>/dev/null || "
                                "mount -t tmpfs tmpfs /run"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("cannot mount in a private mount namespace here")
        self.vault()
        item = self.item("docs", self.source(), "--pre-exec",
                         "echo hello journal; echo 'careful' >&2")
        argv = [harness.OPTIONS.backup_tool, "--vault", "v", "backup", "--item", "docs"]
        r = subprocess.run(["unshare", "--mount", sys.executable, "-c", FAKE_JOURNAL,
                            json.dumps(argv)], env=self.device.env, capture_output=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        result = json.loads(r.stdout)
        self.assertEqual(result["rc"], 3, result)
        job = self.only_job(item)
        ours = [e for e in result["entries"] if e.get("SYSLOG_IDENTIFIER") == "backup-tool"]
        self.assertTrue(ours, result)
        for e in ours:
            self.assertEqual(e["HALLEY_JOB_ID"], job["GUID"], e)
        by_id = {}
        for e in ours:
            by_id.setdefault(e["HALLEY_EVENT_ID"], []).append(e)
        self.assertEqual(sorted(by_id), ["50", "51", "52"])
        started, = by_id["50"]
        self.assertEqual((started["PRIORITY"], started["HALLEY_JOB_CLASSIFICATION"],
                          started["HALLEY_ITEM_ID"]), ("6", "4001", item))
        finished, = by_id["51"]
        self.assertEqual((finished["HALLEY_JOB_STATUS"], finished["PRIORITY"]), ("7001", "4"))
        self.assertIn("warning (7001)", finished["MESSAGE"])
        lines = {(e["PRIORITY"], e["MESSAGE"]) for e in by_id["52"]}
        self.assertIn(("6", "hello journal"), lines)
        self.assertIn(("4", "careful"), lines)
        # The journal gets the same lines as the server's job log.
        log = {e["Message"] for e in self.job_log(job)}
        self.assertEqual({m for _, m in lines}, log)


# Runs inside `unshare --mount`: mounts a tmpfs on /run/systemd (only this namespace sees it),
# listens on /run/systemd/journal/socket as journald does, runs argv, and prints the journal
# entries it got (journald's native protocol) with argv's exit code as JSON.
FAKE_JOURNAL = r'''
import json, os, socket, subprocess, sys, threading
for where in ("/run/systemd", "/run"):
    if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", where]).returncode == 0:
        break
os.makedirs("/run/systemd/journal", exist_ok=True)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("/run/systemd/journal/socket")

def parse(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:  # KEY\n, 64-bit little-endian length, value, \n
            key = line
            n = int.from_bytes(data[nl + 1:nl + 9], "little")
            value = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[key.decode()] = value.decode("utf-8", "replace")
    return fields

entries = []
def receive():  # at once, so that a full socket queue never blocks the sender
    while True:
        data = sock.recv(1 << 20)
        if data == b"end":
            return
        entries.append(parse(data))
reader = threading.Thread(target=receive)
reader.start()
rc = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL).returncode
end = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
end.sendto(b"end", "/run/systemd/journal/socket")
reader.join()
print(json.dumps({"rc": rc, "entries": entries}))
'''


if __name__ == "__main__":
    harness.main()
