#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""backup-tool in managed mode against a real halleyd: `login prompt|status|disconnect` with the
spec's status texts, `vault request|add|list|key`, `item add`, `backup --item --vault` reported
as jobs (4001/4002, 5000/7001/7002, counts and log entries), several devices on one account,
and zero knowledge checked on the server's disk: no file under its data directory holds the
password, the R key or a vault's key.

  python3 tests/integration/test_managed.py --backup-tool PATH --halleyd PATH
"""

import json
import os
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from s3servers import CephRgw  # noqa: E402
from sshservers import Sshd  # noqa: E402
from server import HalleydTestCase, config as server_config, setup_admin  # noqa: E402

USER, USER_PASSWORD = "alice", "alice's password 7"
LOGGED_OUT = "Logged out (0)"
LOCKED = "Logged in, locked (1)"
UNLOCKED = "Logged in, unlocked (2)"
CONNECTION_ERROR = "Connection error (3)"
UNREGISTERED = "Unregistered device for the supplied credentials (4)"


class Device:
    """One client machine: its own configuration directory and device ID (the entropy
    override), the account password in the environment only for `login prompt`."""

    def __init__(self, workdir, name):
        self.config = os.path.join(os.fsdecode(workdir), name + "-config")
        self.env = harness.base_env()
        del self.env["BACKUP_TOOL_PASSWORD"]
        self.env["BACKUP_TOOL_CONFIG_DIR"] = self.config
        self.env["BACKUP_TOOL_DEVICE_ENTROPY"] = name
        self.env["XDG_CACHE_HOME"] = os.path.join(os.fsdecode(workdir), name + "-cache")

    def bt(self, *args, expect=None, password=None, timeout=600):
        env = dict(self.env)
        if password is not None:
            env["BACKUP_TOOL_PASSWORD"] = password
        argv = [harness.OPTIONS.backup_tool] + [os.fsdecode(a) if isinstance(a, bytes) else a
                                                for a in args]
        r = harness.run(argv, env=env, timeout=timeout)
        if expect is not None and r.rc != expect:
            raise AssertionError(f"expected exit code {expect}\n{r.describe()}")
        return r

    def login(self, server, *extra, password=USER_PASSWORD, expect=0):
        return self.bt("login", "prompt", "--server", f"{server.scheme}://{server.address}",
                       "--username", USER, *extra, password=password, expect=expect)

    def status(self):
        r = self.bt("login", "status", expect=0)
        return r.stdout.strip()

    def device_id(self):
        return self.bt("info", "device-id", expect=0).stdout.strip()

    def login_file(self):
        with open(os.path.join(self.config, "login.json")) as f:
            return json.load(f)

    def json(self, *args):
        r = self.bt("--json", *args, expect=0)
        return json.loads(r.stdout.splitlines()[-1])


class AccountTestCase(HalleydTestCase):
    """halleyd with an admin and the user USER."""

    def setUp(self):
        super().setUp()
        self.server = self.start()
        self.admin = setup_admin(self.server)
        self.admin_api("admin/add-user", TargetUser=USER, TargetPassword=USER_PASSWORD)

    def profile(self):
        return self.admin_api("admin/get-user-profile", TargetUser=USER)

    def jobs(self):
        return self.admin_api("admin/get-jobs-for-user", TargetUser=USER)

    def job_log(self, job):
        return self.admin_api("admin/get-job-log-entries", JobID=job["GUID"])

    def recoverable_login(self, device_name):
        """The account "carol" (password "carol 1"), made with a recovery code so that an
        administrator can reset its password, and a Device logged in to it; returns both the
        Device and its `login prompt` arguments."""
        self.admin_api("admin/add-user", TargetUser="carol", TargetPassword="carol 1",
                       StoreRecoveryCode="1")
        d = Device(self.wd.path, device_name)
        login = ("login", "prompt", "--server", f"http://{self.server.address}", "--username",
                 "carol")
        d.bt(*login, password="carol 1", expect=0)
        return d, login

    def start_daemon(self, env, *global_args, poll="1"):
        """`backup-tool daemon` of the device whose environment is `env`, its stderr kept for
        daemon_log; killed at the end of the test."""
        argv = [harness.OPTIONS.backup_tool, *global_args, "daemon", "--poll-seconds", poll]
        err = open(os.path.join(os.fsdecode(self.wd.path), f"daemon{len(self.procs)}.err"),
                   "w+b")
        p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        p.err = err
        self.procs.append(p)
        return p

    def daemon_log(self, p):
        p.err.seek(0)
        return p.err.read().decode(errors="replace")

    def wait(self, predicate, what, timeout=60):
        """predicate()'s first true value, polled until `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.3)
        self.fail(f"timed out waiting for {what} (last: {last!r})")


class DeviceTestCase(AccountTestCase):
    """AccountTestCase with self.device logged in."""

    def setUp(self):
        super().setUp()
        self.device = Device(self.wd.path, "laptop")
        self.device.login(self.server)


class Managed(AccountTestCase):
    def tree(self, name="src"):
        src = self.wd.sub(name)
        harness.build_every_type_tree(src, self.rng, big=False, nonutf8_symlink=False,
                                      sparse_size=1 << 20)
        harness.write_file(os.path.join(src, b"random-3MiB"),
                           harness.pseudo_random_bytes(self.rng, 3 << 20))
        harness.write_file(os.path.join(src, b"skip.tmp"), b"excluded by the item\n")
        return src

    def server_files_contain(self, needle):
        """Paths of the files under the server's data directory that contain `needle`."""
        hits = []
        for dirpath, _, names in os.walk(self.data):
            for n in names:
                p = os.path.join(dirpath, n)
                with open(p, "rb") as f:
                    if needle in f.read():
                        hits.append(p)
        return hits

    # ------------------------------------------------------------------------------------
    def test_login_status_texts(self):
        d = Device(self.wd.path, "laptop")
        self.assertEqual(d.status(), LOGGED_OUT)
        r = d.login(self.server, password="wrong password", expect=13)
        self.assertIn("refused", r.stderr)
        self.assertEqual(d.status(), LOGGED_OUT)

        r = d.login(self.server)
        self.assertIn(d.device_id(), r.stdout)
        self.assertEqual(d.status(), UNLOCKED)
        mode = stat.S_IMODE(os.stat(os.path.join(d.config, "login.json")).st_mode)
        self.assertEqual(mode, 0o600)
        with open(os.path.join(d.config, "login.json"), "rb") as f:
            self.assertNotIn(USER_PASSWORD.encode(), f.read())
        devices = self.profile()["Devices"]
        self.assertEqual(list(devices), [d.device_id()])
        self.assertEqual(devices[d.device_id()]["ClientVersion"],
                         d.bt("--json", "version", expect=0).json_lines()[0]["version"])

        # The device ID is stable and the entropy override tells clones apart.
        self.assertEqual(d.device_id(), d.device_id())
        self.assertNotEqual(d.device_id(), Device(self.wd.path, "clone").device_id())

        self.admin_api("admin/revoke-device", TargetUser=USER, TargetDevice=d.device_id())
        self.assertEqual(d.status(), UNREGISTERED)
        d.login(self.server, "--lock-ui")
        self.assertEqual(d.status(), LOCKED)

        self.server.stop()
        self.assertEqual(d.status(), CONNECTION_ERROR)

        r = d.bt("login", "disconnect", expect=0)
        self.assertEqual(d.status(), LOGGED_OUT)
        self.assertFalse(os.path.exists(os.path.join(d.config, "login.json")))
        # Without a login, managed commands say what to do.
        r = d.bt("vault", "list", expect=1)
        self.assertIn("login prompt", r.stderr)

    def test_spec_help_texts(self):
        d = Device(self.wd.path, "laptop")
        # The spec's "Command-line control" section, command by command.
        top = d.bt("help", expect=0).stdout
        self.assertTrue(top.startswith("Usage: backup-tool COMMAND\n"), top)
        for name, text in [("version", "Display the application version"),
                           ("info", "Display information about the client"),
                           ("login", "Control the service login status"),
                           ("help", "Display this message")]:
            self.assertRegex(top, rf"\n  {name} +{text}\n")
        self.assertIn("Other commands:", top)
        self.assertEqual(d.bt(expect=0).stdout, top)  # no command: the same help
        login = d.bt("login", "help", expect=0).stdout
        self.assertTrue(login.startswith("Usage: backup-tool login COMMAND\n"), login)
        for name, text in [("status", "Display the login status of the background service"),
                           ("prompt", "Interactively prompt for service login credentials"),
                           ("disconnect", "Log out of the application"),
                           (r"join-lobby \[server-url\]",
                            "Connect to the server for remote registration")]:
            self.assertRegex(login, rf"\n  {name} +{text}\n")
        info = d.bt("info", "help", expect=0).stdout
        self.assertRegex(info, r"^Usage: backup-tool info COMMAND\n\nCommands:\n"
                               r"  device-id +Display the device id\n  help +Display this message\n$")
        self.assertRegex(d.bt("version", expect=0).stdout, r"^backup-tool \d+\.\d+\.\d+")

    def test_managed_backup_is_a_job_and_the_server_never_sees_keys(self):
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        vault = d.json("vault", "request", "--name", "offsite")
        item = d.json("item", "add", "--name", "documents", self.tree(), "--exclude", "*.tmp")
        listed = d.json("vault", "list")
        self.assertEqual([(v["id"], v["name"], v["created"]) for v in listed],
                         [(vault["id"], "offsite", True)])

        r = d.bt("--json", "--vault", "offsite", "backup", "--item", "documents", expect=0)
        summary = [j for j in r.json_lines() if j.get("message_type") == "summary"][0]
        jobs = self.jobs()
        self.assertEqual(len(jobs), 1, jobs)
        job = jobs[0]
        self.assertEqual((job["Classification"], job["Status"]), (4001, 5000), job)
        self.assertEqual(job["SourceGUID"], item["id"])
        self.assertEqual(job["DestinationGUID"], vault["id"])
        self.assertEqual(job["DeviceID"], d.device_id())
        self.assertEqual(job["SnapshotID"], summary["snapshot_id"])
        self.assertEqual(job["TotalFiles"], summary["total_files_processed"])
        self.assertEqual(job["TotalSize"], summary["total_bytes_processed"])
        self.assertGreater(job["UploadSize"], 3 << 20)
        # At least the last progress reading reached the server.
        self.assertEqual(job["Progress"]["ItemsDone"], summary["total_files_processed"])
        self.assertEqual(job["Progress"]["BytesDone"], summary["total_bytes_processed"])
        log = self.job_log(job)
        self.assertTrue(any(e["Severity"] == "I" and summary["snapshot_id"] in e["Message"]
                            for e in log), log)

        # The snapshot carries the item's ID; the excluded file is not in it.
        snaps = json.loads(d.bt("--json", "--vault", "offsite", "snapshots", expect=0).stdout)
        self.assertEqual(snaps[0]["tags"], [item["id"]])
        target = self.wd.sub("restore")
        d.bt("--vault", vault["id"], "restore", "latest", "--target", target, expect=0)
        src = self.wd.sub("src")
        restored = os.path.join(target, src.lstrip(b"/"))
        self.assertFalse(os.path.exists(os.path.join(restored, b"skip.tmp")))
        os.unlink(os.path.join(src, b"skip.tmp"))
        os.utime(src, ns=(os.stat(src).st_atime_ns, os.stat(restored).st_mtime_ns))
        self.assertTreesEqual(src, restored, compare_root=True)
        restore_job = [j for j in self.jobs() if j["Classification"] == 4002]
        self.assertEqual([j["Status"] for j in restore_job], [5000])

        # Zero knowledge: the profile holds the keys only wrapped, and nothing on the
        # server's disk holds the vault password, the R key or the account password.
        v = self.profile()["Destinations"][vault["id"]]
        self.assertEqual(v["CometBucketKey"], "")
        self.assertEqual(v["EncryptionKeyEncryptionMethod"], 1)
        self.assertNotEqual(v["RepoInitTimestamp"], 0)
        vault_password = d.bt("vault", "key", "offsite", expect=0).stdout.strip()
        self.assertRegex(vault_password, "^[0-9a-f]{32}$")
        r_key = d.login_file()["WrapKey"]
        for secret in (vault_password.encode(), bytes.fromhex(vault_password), r_key.encode(),
                       bytes.fromhex(r_key), USER_PASSWORD.encode()):
            self.assertEqual(self.server_files_contain(secret), [], secret)

        # restic opens the bucket's directory with the vault password alone.
        if harness.find_restic():
            bucket_dir = os.path.join(self.data, "storage", v["CometBucket"])
            rv = harness.Vault(bucket_dir, self.wd.path, password=vault_password)
            rv.restic_check(read_data=True)

    def test_warnings_and_errors_reach_the_job(self):
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        d.bt("vault", "request", "--name", "v", expect=0)
        src = self.wd.mkdir("small")
        harness.write_file(os.path.join(src, b"a"), b"a\n")
        missing = os.fsdecode(self.wd.sub("missing"))
        partly = d.json("item", "add", "--name", "partly", src, missing)["id"]
        gone = d.json("item", "add", "--name", "gone", missing)["id"]
        r = d.bt("--vault", "v", "backup", "--item", "partly", expect=3)
        self.assertIn(missing, r.stderr)
        r = d.bt("--vault", "v", "backup", "--item", "gone", expect=1)
        by_item = {j["SourceGUID"]: j for j in self.jobs()}
        jobs = [by_item[partly], by_item[gone]]
        self.assertEqual([j["Status"] for j in jobs], [7001, 7002], jobs)
        warn = self.job_log(jobs[0])
        self.assertTrue(any(e["Severity"] == "W" and missing in e["Message"] for e in warn), warn)
        err = self.job_log(jobs[1])
        self.assertTrue(any(e["Severity"] == "E" for e in err), err)
        # Bad input gets a clear error and no job.
        r = d.bt("--vault", "v", "backup", "--item", "nope", expect=1)
        self.assertIn("no Protected Item \"nope\"", r.stderr)
        r = d.bt("backup", "--item", "partly", expect=1)
        self.assertIn("--item needs --vault", r.stderr)
        r = d.bt("--vault", "nope", "snapshots", expect=1)
        self.assertIn("no Storage Vault \"nope\"", r.stderr)
        self.assertEqual(len(self.jobs()), 2)

    def test_a_vault_the_admin_requested_gets_its_keys_on_first_use(self):
        reply = self.admin_api("admin/request-storage-vault", TargetUser=USER)
        vault_id = reply["DestinationID"]
        before = self.profile()["Destinations"][vault_id]
        self.assertNotEqual(before["CometBucketKey"], "")  # the admin's call got a plain key
        self.assertEqual(before["RepoInitTimestamp"], 0)
        d = Device(self.wd.path, "server1")
        d.login(self.server)
        src = self.wd.mkdir("small")
        harness.write_file(os.path.join(src, b"a"), b"a\n")
        d.bt("--vault", vault_id, "backup", src, expect=0)
        after = self.profile()["Destinations"][vault_id]
        self.assertEqual(after["EncryptionKeyEncryptionMethod"], 1)
        self.assertNotEqual(after["RepoInitTimestamp"], 0)
        # A second device of the account uses the same vault and its keys.
        d2 = Device(self.wd.path, "server2")
        d2.login(self.server)
        harness.write_file(os.path.join(src, b"b"), b"b\n")
        d2.bt("--vault", vault_id, "backup", src, expect=0)
        snaps = json.loads(d.bt("--json", "--vault", vault_id, "snapshots", expect=0).stdout)
        self.assertEqual(len(snaps), 2)
        self.assertEqual(sorted(self.profile()["Devices"]), sorted([d.device_id(),
                                                                   d2.device_id()]))
        self.assertEqual(sorted({j["DeviceID"] for j in self.jobs()}),
                         sorted([d.device_id(), d2.device_id()]))

    def test_vault_add_and_copy_between_vaults(self):
        """An existing standalone vault joins the account with its password; a new location
        gets a random key; copy moves snapshots from one Storage Vault to another."""
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        old = harness.Vault(self.wd.sub("standalone"), self.wd.path)
        old.init()
        src = self.wd.mkdir("small")
        harness.write_file(os.path.join(src, b"a"), b"a\n")
        old.backup(src)
        not_a_dir = self.wd.sub("file")
        harness.write_file(not_a_dir, b"x")
        d.bt("vault", "add", "--name", "old", "--repo", os.path.join(not_a_dir, b"x"), expect=1)
        d.bt("vault", "add", "--name", "old", "--repo", os.fsdecode(old.path),
             password="not the vault's password", expect=12)
        d.bt("vault", "add", "--name", "old", "--repo", os.fsdecode(old.path),
             password=old.password, expect=0)
        self.assertEqual(d.bt("vault", "key", "old", expect=0).stdout.strip(), old.password)
        new_dir = os.fsdecode(self.wd.sub("new-local"))
        d.bt("vault", "add", "--name", "new", "--repo", new_dir, expect=0)
        d.bt("--vault", "new", "copy", "--from-vault", "old", expect=0)
        snaps = json.loads(d.bt("--json", "--vault", "new", "snapshots", expect=0).stdout)
        self.assertEqual(len(snaps), 1)
        d.bt("--vault", "new", "check", "--read-data", expect=0)
        r = d.bt("vault", "remove", "old", expect=0)
        self.assertTrue(os.path.exists(os.path.join(old.path, b"config")))
        self.assertEqual([v["name"] for v in d.json("vault", "list")], ["new"])
        # Another account's key does not open this account's vault keys.
        profile = self.profile()
        self.admin_api("admin/add-user", TargetUser="mallory", TargetPassword="m")
        self.admin_api("admin/set-user-profile", TargetUser="mallory",
                       ProfileData=dict(self.admin_api("admin/get-user-profile",
                                                       TargetUser="mallory"),
                                        Destinations=profile["Destinations"]))
        m = Device(self.wd.path, "mallory")
        r = m.bt("login", "prompt", "--server", f"http://{self.server.address}",
                 "--username", "mallory", password="m", expect=0)
        r = m.bt("--vault", "new", "snapshots", expect=12)
        self.assertIn("another account", r.stderr)

    def test_an_s3_vault_keeps_its_credentials_in_the_profile(self):
        """vault add with an s3: location records a type 1000 vault: the access key in the
        clear, the secret key wrapped by the login (the server cannot read it). Later commands
        need no AWS_* variables: the device unwraps the secret itself."""
        ok = CephRgw.available()
        if not ok:
            self.fail("Ceph is needed (scripts/install-deps installs it): " + ok.reason)
        with CephRgw(os.fsdecode(self.wd.sub("ceph"))) as s3:
            s3.make_bucket("devices")
            d = Device(self.wd.path, "laptop")
            d.login(self.server)
            location = f"s3:{s3.endpoint}/devices/laptop"
            d.bt("vault", "add", "--name", "cloud", "--repo", location, expect=1)  # no keys
            d.env.update(s3.env())
            d.bt("vault", "add", "--name", "cloud", "--repo", location, expect=0)
            for k in s3.env():
                del d.env[k]
            (vid, v), = self.profile()["Destinations"].items()
            self.assertEqual(v["DestinationType"], 1000)
            self.assertEqual(v["S3BucketName"], "devices")
            self.assertEqual(v["S3Subdir"], "laptop")
            self.assertEqual(v["S3AccessKey"], s3.access_key)
            self.assertEqual(v["S3SecretKey"], "")
            self.assertEqual(self.server_files_contain(s3.secret_key.encode()), [])
            src = self.tree()
            d.bt("--vault", "cloud", "backup", src, expect=0)
            d.bt("--vault", "cloud", "check", "--read-data", expect=0)
            target = self.wd.sub("restore")
            d.bt("--vault", "cloud", "restore", "latest", "--target", target, expect=0)
            self.assertTreesEqual(src, os.path.join(target, src.lstrip(b"/")), compare_root=True)
            self.assertEqual(self.jobs()[-1]["Status"], 5000)

    def test_an_sftp_vault_keeps_its_login_in_the_profile(self):
        """vault add with an sftp: location records a type 1001 vault with the login it was
        given: the private key of -o sftp.identity wrapped by the login (SFTPAuthMode 2; the
        server cannot read it) and the -o sftp.known-hosts file
        (SFTPCustomAuth_KnownHostsFile). Later --vault commands run with no ~/.ssh at all."""
        ok = Sshd.available()
        if not ok:
            self.skipTest(ok.reason)
        with Sshd(os.fsdecode(self.wd.sub("sshd"))) as sshd:
            d = Device(self.wd.path, "laptop")
            d.env["HOME"] = os.fsdecode(self.wd.mkdir("empty-home"))
            for name in ("SSH_AUTH_SOCK", "BACKUP_TOOL_SFTP_PASSWORD"):
                d.env.pop(name, None)
            d.login(self.server)
            root = os.fsdecode(self.wd.sub("sftp-vault"))
            location = sshd.location(root)
            r = d.bt("vault", "add", "--name", "nas", "--repo", location, expect=1)
            self.assertIn("unknown", r.stderr)  # no known_hosts in this home
            d.bt("vault", "add", "--name", "nas", "--repo", location,
                 "-o", f"sftp.identity={sshd.client_key}",
                 "-o", f"sftp.known-hosts={sshd.known_hosts}", expect=0)
            (vid, v), = self.profile()["Destinations"].items()
            self.assertEqual(v["DestinationType"], 1001)
            self.assertEqual(v["SFTPServer"], f"127.0.0.1:{sshd.port}")
            self.assertEqual(v["SFTPUsername"], "root")
            self.assertEqual(v["SFTPRemotePath"], root)
            self.assertEqual(v["SFTPAuthMode"], 2)
            self.assertEqual(v["SFTPPrivateKey"], "")
            self.assertTrue(v["EncryptedSFTPPrivateKey"])
            self.assertEqual(v["SFTPCustomAuth_UseKnownHostsFile"], True)
            self.assertEqual(v["SFTPCustomAuth_KnownHostsFile"], sshd.known_hosts)
            with open(sshd.client_key, "rb") as f:
                key_lines = [l for l in f.read().splitlines() if l and not l.startswith(b"-")]
            self.assertEqual(self.server_files_contain(key_lines[1]), [])
            self.assertTrue(os.path.exists(os.path.join(root, "config")))

            src = self.tree()
            d.bt("--vault", "nas", "backup", src, expect=0)
            d.bt("--vault", "nas", "check", "--read-data", expect=0)
            target = self.wd.sub("restore")
            d.bt("--vault", "nas", "restore", "latest", "--target", target, expect=0)
            self.assertTreesEqual(src, os.path.join(target, src.lstrip(b"/")), compare_root=True)
            # Backup, deep verify and restore jobs.
            self.assertEqual(sorted((j["Classification"], j["Status"]) for j in self.jobs()),
                             [(4001, 5000), (4002, 5000), (4010, 5000)])

    def test_a_full_vault_ends_the_job_with_7003(self):
        self.server.stop()
        cfg = server_config()
        cfg["AuthenticationRole"]["RemoteStorage"][0].update(StorageLimitEnabled=True,
                                                             StorageLimitBytes=300_000)
        self.server = self.start(config=cfg)
        self.admin = setup_admin(self.server)  # a new halleyd.cfg: admins live there
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        d.bt("vault", "request", "--name", "small", expect=0)
        src = self.wd.mkdir("big")
        harness.write_file(os.path.join(src, b"random"),
                           harness.pseudo_random_bytes(self.rng, 2 << 20))
        r = d.bt("--vault", "small", "backup", src, expect=1)
        jobs = self.jobs()
        self.assertEqual([j["Status"] for j in jobs], [7003], r.describe())
        self.assertTrue(any(e["Severity"] == "E" for e in self.job_log(jobs[0])))

    def test_password_change_rewraps_the_keys(self):
        new_password = "alice's new password 8"
        new_file = self.wd.sub("new-password")
        harness.write_file(new_file, new_password.encode() + b"\n")
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        other = Device(self.wd.path, "desktop")
        other.login(self.server)
        d.bt("vault", "request", "--name", "v", expect=0)
        src = self.wd.mkdir("small")
        harness.write_file(os.path.join(src, b"a"), b"a\n")
        d.bt("--vault", "v", "backup", src, expect=0)
        key_before = d.bt("vault", "key", "v", expect=0).stdout

        r = d.bt("login", "passwd", "--new-password-file", new_file, password="wrong", expect=12)
        r = d.bt("login", "passwd", "--new-password-file", new_file, password=USER_PASSWORD,
                 expect=0)
        # The vault keeps its key; it is now wrapped for the new password only.
        self.assertEqual(d.bt("vault", "key", "v", expect=0).stdout, key_before)
        d.bt("--vault", "v", "backup", src, expect=0)
        self.assertEqual(d.status(), UNLOCKED)
        # The other device's stored credentials no longer work until it logs in again.
        self.assertEqual(other.status(), UNREGISTERED)
        other.login(self.server, expect=13)
        other.login(self.server, password=new_password)
        self.assertEqual(other.bt("vault", "key", "v", expect=0).stdout, key_before)
        with open(os.path.join(d.config, "login.json"), "rb") as f:
            self.assertNotIn(new_password.encode(), f.read())
        self.assertEqual(self.server_files_contain(new_password.encode()), [])

        # The server takes only the login secret, never a password.
        status, reply = self.server.api("user/web/account/change-password",
                                        auth=(USER, new_password), NewPassword="typed",
                                        ProfileData={}, RequireHash="x")
        self.assertEqual(status, 400, reply)
        self.assertIn("zkr1:", reply["Message"])

    def test_password_change_keeps_an_accounts_recovery_code_current(self):
        d, _ = self.recoverable_login("laptop")
        new_file = self.wd.sub("new-password")
        harness.write_file(new_file, b"carol 2\n")
        d.bt("login", "passwd", "--new-password-file", new_file, password="carol 1", expect=0)
        profile = self.admin_api("admin/get-user-profile", TargetUser="carol")
        self.assertEqual(profile["PasswordRecovery"], d.login_file()["WrapKey"])

    def test_an_admin_reset_is_finished_by_the_next_login(self):
        d, login = self.recoverable_login("laptop")
        d.bt("vault", "request", "--name", "v", expect=0)
        src = self.wd.mkdir("small")
        harness.write_file(os.path.join(src, b"a"), b"a\n")
        d.bt("--vault", "v", "backup", src, expect=0)
        key = d.bt("vault", "key", "v", expect=0).stdout

        # Without a recovery code a reset is refused, with one it takes effect.
        reply = self.admin_api("admin/reset-user-password", expect=403, TargetUser=USER,
                               NewPassword="x")
        self.assertIn("login passwd", reply["Message"])
        self.admin_api("admin/reset-user-password", TargetUser="carol", NewPassword="carol 2")
        self.assertEqual(d.status(), UNREGISTERED)  # the stored credentials are the old ones
        # Commands that need the server say it refused the device (13), not a wrong password.
        for argv in (("--vault", "v", "snapshots"), ("vault", "list"), ("item", "list")):
            r = d.bt(*argv, expect=13)
            self.assertIn("refused", r.stderr, r.describe())
        d.bt(*login, password="carol 1", expect=13)
        r = d.bt(*login, password="carol 2", expect=0)
        self.assertIn("reset by an administrator", r.stdout)
        self.assertEqual(d.bt("vault", "key", "v", expect=0).stdout, key)
        d.bt("--vault", "v", "backup", src, expect=0)
        profile = self.admin_api("admin/get-user-profile", TargetUser="carol")
        self.assertEqual(profile["PasswordRecovery"], d.login_file()["WrapKey"])
        # A second login has nothing left to do.
        r = d.bt(*login, password="carol 2", expect=0)
        self.assertNotIn("reset by an administrator", r.stdout)

    def test_login_over_tls_keeps_the_ca(self):
        self.server.stop()
        self.server, cert = self.start_tls()
        self.admin = setup_admin(self.server)  # a new halleyd.cfg: admins live there
        d = Device(self.wd.path, "laptop")
        r = d.login(self.server, expect=1)
        self.assertIn("certificate", r.stderr)
        d.login(self.server, "--cacert", cert)
        d.bt("vault", "request", "--name", "tls", expect=0)
        src = self.wd.mkdir("small")
        harness.write_file(os.path.join(src, b"a"), b"a\n")
        d.bt("--vault", "tls", "backup", src, expect=0)
        self.assertEqual([j["Status"] for j in self.jobs()], [5000])


if __name__ == "__main__":
    harness.main()
