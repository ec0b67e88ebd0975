#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The CLI contract for failures (reliability.md A7): restic's exit codes 0, 1, 3, 10, 11, 12,
130, readable messages, and `--json` errors as one exit_error JSON line on stderr.

  python3 tests/integration/test_exit_codes.py --backup-tool PATH --craft-snapshot PATH
"""

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NOBODY = 65534


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ExitCodes(harness.TestCase):
    def small_tree(self, name="src"):
        src = self.wd.sub(name)
        os.makedirs(os.path.join(src, b"d"))
        for i in range(5):
            harness.write_file(os.path.join(src, b"d", b"f%d" % i), b"x" * (i * 100))
        return src

    def exit_error(self, r):
        """The exit_error JSON object a --json run printed on stderr (exactly one)."""
        lines = [j for j in r.json_lines("err")
                 if isinstance(j, dict) and j.get("message_type") == "exit_error"]
        self.assertEqual(len(lines), 1, f"expected one exit_error line on stderr\n{r.describe()}")
        return lines[0]

    def craft(self, vault, spec):
        if not harness.OPTIONS.craft_snapshot:
            self.skipTest("needs --craft-snapshot")
        p = os.path.join(self.wd.path, b"spec.json")
        with open(p, "w") as f:
            json.dump(spec, f)
        r = harness.run([harness.OPTIONS.craft_snapshot, os.fsdecode(p)], env=vault.env)
        self.assertExit(r, 0)
        return json.loads(r.stdout.splitlines()[1])

    # 0 ----------------------------------------------------------------------------------------
    def test_0_success(self):
        v = self.new_vault()
        src = self.small_tree()
        r = v.bt("backup", src)
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"snapshot [0-9a-f]{8} saved")
        self.assertExit(v.bt("snapshots"), 0)
        self.assertExit(v.bt("restore", "latest", "--target", self.wd.sub("t")), 0)
        self.assertExit(v.bt("version"), 0)

    # 1 ----------------------------------------------------------------------------------------
    def test_1_generic_failure(self):
        v = self.new_vault()
        v.backup(self.small_tree())
        r = v.bt("restore", "deadbeef", "--target", self.wd.sub("t"))
        self.assertExit(r, 1)
        self.assertIn("deadbeef", r.stderr)
        r = v.bt("--json", "restore", "deadbeef", "--target", self.wd.sub("t"))
        self.assertExit(r, 1)
        self.assertEqual(self.exit_error(r)["code"], 1)
        r = v.bt("backup", self.wd.sub("does-not-exist"))
        self.assertExit(r, 1, "backup of a path that does not exist")
        self.assertEqual(len(harness.snapshot_ids(v)), 1)

    def test_repeatable_flags_take_one_value(self):
        """restic's flag syntax: a repeatable flag (--tag, --exclude, --include) takes exactly
        one value per occurrence, so `backup --tag t PATH` backs up PATH with tag t and
        `restore --include P SNAPSHOT --target T` restores SNAPSHOT."""
        v = self.new_vault()
        src = self.small_tree()
        r = v.bt("--json", "backup", "--tag", "t1", "-e", "f3", "--tag", "t2", src)
        self.assertExit(r, 0, "backup --tag t1 -e f3 --tag t2 PATH")
        snaps = v.snapshots()
        self.assertEqual(len(snaps), 1)
        self.assertEqual(snaps[0]["paths"], [os.fsdecode(src)])
        self.assertEqual(sorted(snaps[0].get("tags", [])), ["t1", "t2"])
        self.assertEqual(snaps[0].get("excludes"), ["f3"])
        t = self.wd.sub("t")
        r = v.bt("restore", "--include", "f1", snaps[0]["id"], "--target", t)
        self.assertExit(r, 0, "restore --include P SNAPSHOT --target T")
        restored = os.path.join(t, src.lstrip(b"/"), b"d")
        self.assertEqual(sorted(os.listdir(restored)), [b"f1"])

    # 10 ---------------------------------------------------------------------------------------
    def test_10_no_vault(self):
        v = harness.Vault(self.wd.sub("nothing-here"), self.wd.path)
        for args in (("snapshots",), ("backup", self.small_tree()),
                     ("restore", "latest", "--target", self.wd.sub("t"))):
            r = v.bt(*args)
            self.assertExit(r, 10, f"{args[0]} without a vault")
            self.assertIn("Is there a vault at the following location?", r.stderr)
            self.assertIn(os.fsdecode(v.path), r.stderr)
        self.assertFalse(os.path.exists(v.path), "a failed command created the vault directory")
        r = v.bt("--json", "snapshots")
        self.assertExit(r, 10)
        e = self.exit_error(r)
        self.assertEqual(e["code"], 10)
        self.assertIn("does not exist", e["message"])
        self.assertEqual(r.stdout.strip(), "", "--json error output leaked to stdout")

    # 12 ---------------------------------------------------------------------------------------
    def test_12_wrong_password(self):
        v = self.new_vault()
        v.backup(self.small_tree())
        wrong = dict(v.env, BACKUP_TOOL_PASSWORD="not the password")
        for args in (("snapshots",), ("backup", self.small_tree("src2")),
                     ("restore", "latest", "--target", self.wd.sub("t"))):
            r = v.bt(*args, env=wrong)
            self.assertExit(r, 12, f"{args[0]} with a wrong password")
            self.assertIn("password", r.stderr.lower())
        r = v.bt("--json", "snapshots", env=wrong)
        self.assertExit(r, 12)
        self.assertEqual(self.exit_error(r)["code"], 12)
        # Password from a file and from a command: the same rules.
        pwfile = self.wd.sub("pw")
        harness.write_file(pwfile, b"wrong again\n")
        env = dict(wrong)
        del env["BACKUP_TOOL_PASSWORD"]
        self.assertExit(v.bt("--password-file", pwfile, "snapshots", env=env), 12)
        harness.write_file(pwfile, harness.PASSWORD.encode() + b"\n")
        self.assertExit(v.bt("--password-file", pwfile, "snapshots", env=env), 0)
        self.assertExit(v.bt("--password-command", "echo nope", "snapshots", env=env), 12)
        self.assertEqual(len(harness.snapshot_ids(v)), 1)

    # 11 ---------------------------------------------------------------------------------------
    def lock_json(self, exclusive, age=datetime.timedelta(0), host="other-host"):
        t = datetime.datetime.now(datetime.timezone.utc) - age
        return json.dumps({"time": rfc3339(t), "exclusive": exclusive, "hostname": host,
                           "username": "mallory", "pid": 4242, "uid": 1000, "gid": 100},
                          separators=(",", ":"))

    def test_11_locked(self):
        v = self.new_vault()
        src = self.small_tree()
        v.backup(src)
        out = self.craft(v, {"locks": [self.lock_json(exclusive=True)]})
        lock_id = out["locks"][0]
        self.assertEqual(len(v.files("locks")), 1)
        for args in (("backup", src), ("snapshots",),
                     ("restore", "latest", "--target", self.wd.sub("t"))):
            r = v.bt(*args)
            self.assertExit(r, 11, f"{args[0]} while the vault is locked exclusively")
            self.assertIn("locked", r.stderr)
            self.assertIn("other-host", r.stderr)
            self.assertIn(lock_id[:8], r.stderr)
        r = v.bt("--json", "backup", src)
        self.assertExit(r, 11)
        self.assertEqual(self.exit_error(r)["code"], 11)
        self.assertEqual(len(harness.snapshot_ids(v)), 1, "a locked-out backup wrote a snapshot")
        # A fresh lock of another host is not stale: plain unlock keeps it...
        self.assertExit(v.bt("unlock"), 0)
        self.assertEqual(len(v.files("locks")), 1, "unlock removed a live lock")
        self.assertExit(v.bt("backup", src), 11)
        # ...--remove-all removes it.
        self.assertExit(v.bt("unlock", "--remove-all"), 0)
        self.assertEqual(v.files("locks"), [])
        self.assertExit(v.bt("backup", src), 0)
        # A non-exclusive lock of someone else does not block a backup (restic semantics).
        self.craft(v, {"locks": [self.lock_json(exclusive=False)]})
        self.assertExit(v.bt("backup", src), 0)
        # A stale lock (2 hours old) is removed by a plain unlock.
        self.assertExit(v.bt("unlock", "--remove-all"), 0)
        self.craft(v, {"locks": [self.lock_json(exclusive=True,
                                                age=datetime.timedelta(hours=2))]})
        self.assertExit(v.bt("snapshots"), 11, "a stale exclusive lock must still block")
        self.assertExit(v.bt("unlock"), 0)
        self.assertEqual(v.files("locks"), [], "unlock kept a stale lock")
        self.assertExit(v.bt("snapshots"), 0)

    # 3 ----------------------------------------------------------------------------------------
    def test_3_unreadable_source_file(self):
        """An unprivileged backup of a tree with one unreadable file and one unlistable
        directory: exit 3, both named, the snapshot still written with everything else."""
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv")
        v = self.new_vault()
        src = self.small_tree()
        secret = os.path.join(src, b"d", b"secret")
        harness.write_file(secret, b"you cannot read me")
        closed = os.path.join(src, b"closed")
        os.mkdir(closed)
        harness.write_file(os.path.join(closed, b"inside"), b"cannot list me")
        os.makedirs(self.wd.sub("xdg-cache"), exist_ok=True)
        for top in (src, v.path, self.wd.sub("xdg-cache")):
            for dirpath, dirs, files in os.walk(top):
                for n in dirs + files:
                    os.chown(os.path.join(dirpath, n), NOBODY, NOBODY, follow_symlinks=False)
            os.chown(top, NOBODY, NOBODY)
        os.chmod(secret, 0o000)
        os.chmod(closed, 0o000)
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                harness.OPTIONS.backup_tool, "backup", os.fsdecode(src)]
        # Sanity: the unprivileged user really cannot read the file.
        probe = harness.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                             "--clear-groups", "cat", os.fsdecode(secret)])
        self.assertNotEqual(probe.rc, 0, "setup: nobody can read the chmod 000 file")
        r = harness.run(argv, env=v.env, cwd="/")
        self.assertExit(r, 3)
        self.assertIn(os.fsdecode(secret), r.stderr, "the unreadable file is not named")
        self.assertIn(os.fsdecode(closed), r.stderr, "the unreadable directory is not named")
        snaps = harness.snapshot_ids(v)
        self.assertEqual(len(snaps), 1, "no snapshot written for a partial backup")
        # --json: an error line for the item, the summary, exit 3.
        r = harness.run(argv[:5] + ["--json"] + argv[5:], env=v.env, cwd="/")
        self.assertExit(r, 3)
        items = [j for j in r.json_lines("err") if j.get("message_type") == "error"]
        self.assertTrue(any(j.get("item") == os.fsdecode(secret) for j in items), r.describe())
        # The snapshot holds everything else.
        t = self.wd.sub("t")
        self.assertExit(v.restore(f"{snaps[0]}:{os.fsdecode(src)}", t), 0)
        self.assertFalse(os.path.lexists(os.path.join(t, b"d", b"secret")))
        # The unreadable directory is kept (with its metadata), empty.
        self.assertEqual(os.listdir(os.path.join(t, b"closed")), [])
        self.assertTreesEqual(src, t, ignore_paths=(b"d/secret", b"closed/inside"),
                              dir_mtime=False)

    # 130 --------------------------------------------------------------------------------------
    def test_130_interrupted(self):
        """SIGINT during a backup: exit 130, no snapshot, no lock left, next backup fine."""
        rng, _ = harness.seeded_rng("Interrupted")
        v = self.new_vault()
        src = self.wd.sub("big")
        os.mkdir(src)
        for i in range(6):
            harness.write_file(os.path.join(src, b"big%d" % i),
                               harness.pseudo_random_bytes(rng, 40 << 20))
        for i in range(500):
            harness.write_file(os.path.join(src, b"small%03d" % i),
                               harness.pseudo_random_bytes(rng, 4000))
        p = v.popen_bt("--json", "backup", src)
        # Wait until the backup is really under way: a pack has been uploaded.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None and not v.files("data"):
            time.sleep(0.02)
        self.assertIsNone(p.poll(), "backup finished before it could be interrupted; "
                          "make the tree bigger")
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("backup did not stop within 60 s of SIGINT")
        r = harness.Run(p.args, p.returncode, out, err, 0)
        self.assertExit(r, 130)
        self.assertEqual(self.exit_error(r)["code"], 130)
        self.assertEqual(v.files("snapshots"), [],
                         "an interrupted backup wrote a snapshot or left a temporary one")
        self.assertEqual(v.files("locks"), [], "an interrupted backup left its lock behind")
        _, s = v.backup(src)
        t = self.wd.sub("t")
        self.assertExit(v.restore(f"{s['snapshot_id']}:{os.fsdecode(src)}", t), 0)
        self.assertTreesEqual(src, t)


if __name__ == "__main__":
    harness.main()
