#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The live connection between `backup-tool daemon` and halleyd (docs/live.md), all real
processes on loopback:

  - the daemon's connection shows in admin/dispatcher/list-active with the device's fields;
    admin/dispatcher/run-backup starts the schedule, whose job ends 5000 with counts;
    refetch-profile, request-vault-snapshots and unlock are answered; an unknown target is 404;
  - drop-connection: the device reconnects by itself; revoke-device drops it for good;
  - update-login-url to a wrong URL leaves the device where it is; to a second halleyd that
    knows the account moves it there (login file, live connection, later API calls); with
    Force it moves to a server not up yet, and registers there once it answers;
  - update-login-password after an administrator's reset: a wrong password changes nothing,
    the right one logs the device in and finishes the reset (same vault key);
  - admin/job/cancel stops a dispatched run, which reports 7005 and is not retried;
  - over TLS the device checks the server's certificate (its login's CA file);
  - the connection goes through an HTTP CONNECT proxy (tinyproxy's log shows the tunnel) and
    comes back after halleyd restarts on the same port;
  - the registration lobby: `login join-lobby` waits, admin/installation/list-active shows it,
    admin/installation/dispatch/register-device logs it in;
  - a WebSocket upgrade without valid credentials is refused with 401, and with an
    unregistered device ID with 403;
  - live connections do not hold a thread each: 1,200 of them (over the 1,024 HTTP
    connections halleyd serves at once) stay open together while the API still answers.

  python3 tests/integration/test_live.py --backup-tool PATH --halleyd PATH
"""

import base64
import json
import os
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import Halleyd, setup_admin  # noqa: E402
from test_managed import USER, USER_PASSWORD, Device, DeviceTestCase  # noqa: E402
from test_proxies import Tinyproxy  # noqa: E402


class Live(DeviceTestCase):
    def start_daemon(self, env=None, *global_args, poll="1"):
        return super().start_daemon(env or self.device.env, *global_args, poll=poll)

    def connection(self, server, not_id=None):
        """The device's live connection ID on `server` (waits for one other than not_id)."""
        def find():
            active = self.admin_api("admin/dispatcher/list-active", server=server)
            for cid, c in active.items():
                if c["Username"] == USER and cid != not_id:
                    return cid
            return None
        return self.wait(find, "the device's live connection")

    def dispatch(self, server, action, target, expect=200, **form):
        return self.admin_api("admin/dispatcher/" + action, server=server, expect=expect,
                              TargetID=target, **form)

    def backup_setup(self):
        src = self.wd.mkdir("docs")
        harness.write_file(os.path.join(src, b"a"), harness.pseudo_random_bytes(self.rng, 50_000))
        self.device.bt("vault", "request", "--name", "v", expect=0)
        self.device.bt("item", "add", "--name", "docs", src, expect=0)
        # A schedule that would not fire during the test on its own.
        self.device.bt("schedule", "add", "--name", "nightly", "--item", "docs", "--vault", "v",
                       "--once", "2099-01-01 03:00", expect=0)
        profile = self.admin_api("admin/get-user-profile", TargetUser=USER)
        return next(iter(profile["BackupRules"])), src

    # ------------------------------------------------------------------------------------
    def test_list_active_and_dispatched_backup(self):
        rule, src = self.backup_setup()
        p = self.start_daemon()
        cid = self.connection(self.server)
        c = self.admin_api("admin/dispatcher/list-active", UserNameFilter=USER)[cid]
        self.assertEqual(c["DeviceID"], self.device.device_id())
        self.assertTrue(c["ReportedPlatform"].startswith("linux/"), c)
        self.assertTrue(c["ReportedVersion"], c)
        self.assertTrue(c["DeviceTimeZone"], c)
        self.assertEqual(c["IPAddress"], "127.0.0.1")
        self.assertFalse(c["AllowsFilenames"])
        self.assertGreater(c["ConnectionTime"], 0)
        self.assertEqual(self.admin_api("admin/dispatcher/list-active",
                                  UserNameFilter="nobody"), {})

        self.dispatch(self.server, "run-backup", cid, BackupRule=rule)
        jobs = self.wait(lambda: [j for j in self.admin_api("admin/get-jobs-for-user",
                                                      TargetUser=USER) if j["Status"] == 5000],
                         "the dispatched backup's job")
        self.assertEqual(jobs[0]["Classification"], 4001)
        self.assertEqual(jobs[0]["TotalFiles"], 1)

        self.dispatch(self.server, "run-backup", cid, expect=404, BackupRule="no-such-rule")
        self.dispatch(self.server, "refetch-profile", cid)
        vault = next(iter(self.admin_api("admin/get-user-profile",
                                   TargetUser=USER)["Destinations"]))
        snaps = self.dispatch(self.server, "request-vault-snapshots", cid, Destination=vault)
        self.assertEqual(len(snaps["Snapshots"]), 1, snaps)
        self.assertEqual(len(snaps["Snapshots"][0]["Snapshot"]), 64)
        root = self.dispatch(self.server, "request-stored-objects", cid, Destination=vault,
                             SnapshotID=snaps["Snapshots"][0]["Snapshot"])["StoredObjects"]
        self.assertEqual([o["type"] for o in root], ["dir"], root)
        self.assertEqual(len(root[0]["subtree"]), 64)
        # A restore dispatched to the device: job 4002, the same bytes.
        target = os.fsdecode(self.wd.sub("restored"))
        self.dispatch(self.server, "run-restore", cid, Destination=vault, Path=target)
        self.wait(lambda: any(j["Classification"] == 4002 and j["Status"] == 5000
                              for j in self.admin_api("admin/get-jobs-for-user",
                                                      TargetUser=USER)),
                  "the dispatched restore's job")
        with open(os.path.join(target, os.fsdecode(src).lstrip("/"), "a"), "rb") as f:
            with open(os.path.join(src, b"a"), "rb") as g:
                self.assertEqual(f.read(), g.read())
        self.dispatch(self.server, "request-filesystem-objects", cid, expect=403, Path="/")
        self.dispatch(self.server, "no-such-action", cid, expect=404)
        self.dispatch(self.server, "refetch-profile", "no-such-connection", expect=404)
        self.assertIn("live connection to", self.daemon_log(p))

    def test_a_changed_profile_reaches_the_daemon_at_once(self):
        # The daemon would read the profile again only in an hour; the server's notice makes
        # it read the new Schedule now.
        src = self.wd.mkdir("docs")
        harness.write_file(os.path.join(src, b"a"), b"hello\n")
        self.device.bt("vault", "request", "--name", "v", expect=0)
        self.device.bt("item", "add", "--name", "docs", src, expect=0)
        p = self.start_daemon(None, poll="3600")
        self.connection(self.server)
        time.sleep(1)
        self.device.bt("schedule", "add", "--name", "soon", "--item", "docs", "--vault", "v",
                       "--periodic", "2", expect=0)
        self.wait(lambda: any(j["Status"] == 5000 for j in self.admin_api(
            "admin/get-jobs-for-user", TargetUser=USER)), "a run of the new Schedule", timeout=30)
        self.assertIn("dispatcher request: refetch-profile", self.daemon_log(p))

    def test_admin_cancels_a_running_job(self):
        src = self.wd.mkdir("big")
        harness.write_file(os.path.join(src, b"a"), harness.pseudo_random_bytes(self.rng, 4 << 20))
        self.device.bt("vault", "request", "--name", "v", expect=0)
        self.device.bt("item", "add", "--name", "big", src, expect=0)
        self.device.bt("schedule", "add", "--name", "nightly", "--item", "big", "--vault", "v",
                       "--once", "2099-01-01 03:00", "--retry", "3", expect=0)
        rule = next(iter(self.admin_api("admin/get-user-profile", TargetUser=USER)["BackupRules"]))
        p = self.start_daemon(None, "--limit-upload", "128")
        cid = self.connection(self.server)
        self.dispatch(self.server, "run-backup", cid, BackupRule=rule)
        running = self.wait(lambda: [j for j in self.admin_api("admin/get-jobs-for-user",
                                                               TargetUser=USER)
                                     if j["Status"] == 6001], "the running job")[0]
        self.assertTrue(running["CancellationID"], running)
        self.admin_api("admin/job/cancel", TargetUser=USER, JobID=running["GUID"])
        done = self.wait(lambda: [j for j in self.admin_api("admin/get-jobs-for-user",
                                                            TargetUser=USER)
                                  if j["Status"] == 7005], "the cancelled job (7005)")
        self.assertEqual(done[0]["GUID"], running["GUID"])
        self.admin_api("admin/job/cancel", expect=400, TargetUser=USER, JobID=running["GUID"])
        # Cancelled, not failed: the daemon schedules no retry (it would log it as the run ends).
        self.wait(lambda: "ended with exit code" in self.daemon_log(p), "the run to end")
        self.assertNotIn("retry 1 of 3", self.daemon_log(p))
        self.assertEqual(len(self.admin_api("admin/get-jobs-for-user", TargetUser=USER)), 1)
        self.device.bt("--vault", "v", "check", expect=0)  # unlocked and consistent

    def test_drop_reconnects_and_revoke_drops_for_good(self):
        self.start_daemon()
        cid = self.connection(self.server)
        self.dispatch(self.server, "drop-connection", cid)
        self.connection(self.server, not_id=cid)
        self.admin_api("admin/revoke-device", TargetUser=USER,
                 TargetDevice=self.device.device_id())
        self.wait(lambda: self.admin_api("admin/dispatcher/list-active") == {},
                  "the revoked device's connection to close")
        time.sleep(3)  # it tries again, and is refused
        self.assertEqual(self.admin_api("admin/dispatcher/list-active"), {})

    def test_update_login_url(self):
        other_data = os.fsdecode(self.wd.sub("data2"))
        os.makedirs(other_data, exist_ok=True)
        other = Halleyd(other_data)
        self.servers.append(other)
        other_admin = setup_admin(other)
        status, reply = other.api("admin/add-user", auth=other_admin, TargetUser=USER,
                                  TargetPassword=USER_PASSWORD)
        self.assertEqual(status, 200, reply)

        p = self.start_daemon()
        cid = self.connection(self.server)
        # A URL where nothing answers: the device stays.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        reply = self.dispatch(self.server, "update-login-url", cid, expect=502,
                              NewURL=f"http://127.0.0.1:{dead}/")
        self.assertIn("stays at", reply["Message"])
        self.assertIn(self.server.address, self.device.login_file()["Server"])
        time.sleep(1)
        self.assertIn(cid, self.admin_api("admin/dispatcher/list-active"))

        self.dispatch(self.server, "update-login-url", cid, NewURL=f"http://{other.address}/")
        self.assertIn(other.address, self.device.login_file()["Server"])
        def moved():
            st, active = other.api("admin/dispatcher/list-active", auth=other_admin)
            return st == 200 and any(c["Username"] == USER for c in active.values())
        self.wait(moved, "the device's connection to the new server")
        self.wait(lambda: self.admin_api("admin/dispatcher/list-active") == {},
                  "the old connection to close")
        self.assertIn("moved to", self.daemon_log(p))

    def test_forced_update_login_url_waits_for_the_new_server(self):
        p = self.start_daemon()
        cid = self.connection(self.server)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        reply = self.dispatch(self.server, "update-login-url", cid, NewURL=f"http://127.0.0.1:{port}/",
                              Force="true")
        self.assertIn("moved anyway (Force)", reply["Message"])
        self.assertIn(f"127.0.0.1:{port}", self.device.login_file()["Server"])
        self.wait(lambda: self.admin_api("admin/dispatcher/list-active") == {},
                  "the old connection to close")
        # The new server comes up later, with the account: the device registers and connects.
        new_data = os.fsdecode(self.wd.sub("data-new"))
        os.makedirs(new_data, exist_ok=True)
        new = Halleyd(new_data, listen=f"127.0.0.1:{port}")
        self.servers.append(new)
        new_admin = setup_admin(new)
        status, reply = new.api("admin/add-user", auth=new_admin, TargetUser=USER,
                                TargetPassword=USER_PASSWORD)
        self.assertEqual(status, 200, reply)
        def connected():
            st, active = new.api("admin/dispatcher/list-active", auth=new_admin)
            return st == 200 and any(c["Username"] == USER for c in active.values())
        self.wait(connected, "the device's connection to the new server", timeout=90)
        st, profile = new.api("admin/get-user-profile", auth=new_admin, TargetUser=USER)
        self.assertIn(self.device.device_id(), profile["Devices"])
        self.assertEqual(self.device.status(), "Logged in, unlocked (2)")
        self.assertIn("registered at", self.daemon_log(p))

    def test_update_login_password_after_an_admin_reset(self):
        d, _ = self.recoverable_login("desk")
        d.bt("vault", "request", "--name", "v", expect=0)
        key = d.bt("vault", "key", "v", expect=0).stdout
        p = self.start_daemon(d.env)
        def carol():
            active = self.admin_api("admin/dispatcher/list-active")
            return next((cid for cid, c in active.items() if c["Username"] == "carol"), None)
        cid = self.wait(carol, "carol's live connection")
        self.admin_api("admin/reset-user-password", TargetUser="carol", NewPassword="carol 2")
        self.assertEqual(d.status(), "Unregistered device for the supplied credentials (4)")
        # A wrong password is refused and changes nothing; the right one logs the device in.
        reply = self.dispatch(self.server, "update-login-password", cid, expect=403,
                              NewPassword="carol 3")
        self.assertIn("keeps its login", reply["Message"])
        self.assertEqual(d.status(), "Unregistered device for the supplied credentials (4)")
        self.dispatch(self.server, "update-login-password", cid, NewPassword="carol 2")
        self.assertEqual(d.status(), "Logged in, unlocked (2)")
        # The reset is finished: the vault key is the same, unwrapped with the new login.
        self.assertEqual(d.bt("vault", "key", "v", expect=0).stdout, key)
        profile = self.admin_api("admin/get-user-profile", TargetUser="carol")
        self.assertEqual(profile["PasswordRecovery"], d.login_file()["WrapKey"])
        self.wait(lambda: carol() not in (None, cid), "carol's connection with the new login")
        log = self.daemon_log(p)
        self.assertIn("logged in with a new password", log)
        self.assertNotIn("carol 2", log)
        server_log = self.server.log()
        self.assertIn("update-login-password", server_log)
        self.assertNotIn("carol 2", server_log)

    def test_through_a_connect_proxy_and_across_a_restart(self):
        proxy = Tinyproxy(os.fsdecode(self.wd.sub("proxy")))
        self.addCleanup(proxy.close)
        env = dict(self.device.env)
        env["http_proxy"] = proxy.url()
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        self.start_daemon(env)
        cid = self.connection(self.server)
        self.assertTrue(any(m == "CONNECT" and t == self.server.address
                            for m, t in proxy.requests()), proxy.requests())
        # halleyd restarts on the same port: the daemon comes back by itself.
        address = self.server.address
        self.server.stop()
        self.server = self.start(listen=address)
        self.connection(self.server, not_id=cid)

    def test_over_tls(self):
        self.server.stop()
        self.server, cert = self.start_tls()
        self.admin = setup_admin(self.server)  # a new halleyd.cfg; the same user database
        self.device.login(self.server, "--cacert", cert)
        p = self.start_daemon()
        cid = self.connection(self.server)
        self.dispatch(self.server, "refetch-profile", cid)
        self.assertIn("live connection to https://", self.daemon_log(p))
        # A device that does not trust the certificate does not connect.
        p.kill()
        p.communicate()
        login = self.device.login_file()
        login["CACertFile"] = ""
        with open(os.path.join(self.device.config, "login.json"), "w") as f:
            json.dump(login, f)
        p = self.start_daemon()
        self.wait(lambda: "live connection down: TLS with" in self.daemon_log(p),
                  "the daemon to refuse the untrusted certificate", timeout=30)
        self.assertIn("certificate verify failed", self.daemon_log(p))

    def test_registration_lobby(self):
        fresh = Device(self.wd.path, "newbox")
        p = subprocess.Popen([harness.OPTIONS.backup_tool, "login", "join-lobby",
                              f"http://{self.server.address}"], env=fresh.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        def waiting():
            lobby = self.admin_api("admin/installation/list-active")
            return next((c for c in lobby.values() if c["DeviceID"] == fresh.device_id()), None)
        entry = self.wait(waiting, "the device in the lobby")
        self.assertTrue(entry["FriendlyName"])
        self.admin_api("admin/installation/dispatch/register-device", expect=404,
                 DeviceID="not-waiting", TargetUser=USER, TargetPassword=USER_PASSWORD)
        self.admin_api("admin/installation/dispatch/register-device",
                 DeviceID=entry["DeviceID"], TargetUser=USER, TargetPassword=USER_PASSWORD)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
        self.assertEqual(fresh.status(), "Logged in, unlocked (2)")
        login = fresh.login_file()
        self.assertNotIn(USER_PASSWORD, json.dumps(login))
        devices = self.admin_api("admin/get-user-profile", TargetUser=USER)["Devices"]
        self.assertIn(fresh.device_id(), devices)

    def test_upgrade_refused_without_credentials(self):
        def upgrade(headers):
            host, port = self.server.address.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as s:
                lines = ["GET /api/v1/device/live HTTP/1.1", f"Host: {self.server.address}",
                         "Upgrade: websocket", "Connection: Upgrade",
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                         "Sec-WebSocket-Version: 13", *headers, "", ""]
                s.sendall("\r\n".join(lines).encode())
                return s.recv(4096).decode(errors="replace").split("\r\n")[0]
        self.assertIn(" 400 ", upgrade([]))  # no device ID
        device = "X-Halley-Device-ID: " + self.device.device_id()
        self.assertIn(" 401 ", upgrade([device]))
        bad = base64.b64encode(f"{USER}:wrong".encode()).decode()
        self.assertIn(" 401 ", upgrade([device, "Authorization: Basic " + bad]))
        secret = "zkr1:" + self.device.login_file()["LoginKey"]
        good = base64.b64encode(f"{USER}:{secret}".encode()).decode()
        self.assertIn(" 403 ", upgrade(["X-Halley-Device-ID: unregistered",
                                        "Authorization: Basic " + good]))
        self.assertIn(" 101 ", upgrade([device, "Authorization: Basic " + good]))

    def test_more_live_connections_than_http_threads(self):
        count = 1200
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < count + 200:
            self.skipTest(f"needs {count + 200} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, count + 200), hard))
        host, port = self.server.address.rsplit(":", 1)
        sockets = []
        try:
            for i in range(count):
                s = socket.create_connection((host, int(port)), timeout=30)
                sockets.append(s)
                s.sendall("\r\n".join([
                    "GET /api/v1/device/lobby HTTP/1.1", f"Host: {self.server.address}",
                    "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                    f"X-Halley-Device-ID: crowd-{i}", "", ""]).encode())
            for i, s in enumerate(sockets):
                # The server's hello message follows the handshake once the hub has the
                # connection.
                got = b""
                while b"ConnectionID" not in got:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, f"connection {i} closed: {got!r}")
                    got += chunk
                self.assertIn(b" 101 ", got.split(b"\r\n")[0], f"connection {i}")
            lobby = self.admin_api("admin/installation/list-active")
            crowd = {c["DeviceID"] for c in lobby.values() if c["DeviceID"].startswith("crowd-")}
            self.assertEqual(len(crowd), count)
        finally:
            for s in sockets:
                s.close()
        def emptied():
            lobby = self.admin_api("admin/installation/list-active")
            return not any(c["DeviceID"].startswith("crowd-") for c in lobby.values()) or None
        self.wait(emptied, "the lobby to empty once the connections close")


if __name__ == "__main__":
    harness.main()
