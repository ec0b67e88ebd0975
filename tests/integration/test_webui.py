#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""halleyd's web admin UI (docs/server.md "Web admin UI"): how it is served (security headers,
content types, HEAD, 405, no path traversal), and the UI itself driven in Debian's
headless Chromium by webui_driver.mjs (playwright-core from tests/node): sign-in with a wrong
and a right password, adding a user (checked here through the API), a Storage Vault request, a
password reset, jobs with their status names, sizes and logs, registering a device waiting in
the lobby and acting on its live connection, the Storage and Server pages, deleting the user,
an ended session and sign-out; no console error or CSP violation on the way, and server data
never becomes markup.

  python3 tests/integration/test_webui.py --backup-tool PATH --halleyd PATH
"""

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import HalleydTestCase, config as server_config, setup_admin  # noqa: E402
from test_managed import Device  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "webui_driver.mjs")
PLAYWRIGHT = os.path.join(HERE, "..", "node", "node_modules", "playwright-core", "package.json")
CHROMIUM = "/usr/bin/chromium"
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}

JOB_USER = "dana"
JOB_PASSWORD = "dana's password 1"
# A user name and a log line that would become elements if the UI parsed server data as HTML.
NEW_USER = "carol<img src=x onerror=alert(1)>"
NEW_PASSWORD = "carol's first password"
RESET_PASSWORD = "carol's second password"
LOG_MESSAGE = "disk nearly full <b>bold</b> <img src=x onerror=alert(2)> & done"
DRIVER_TIMEOUT = 240


class WebUi(HalleydTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.start(config=server_config())
        self.admin = setup_admin(self.server)
        self.base = f"http://{self.server.address}"

    def get(self, path, method="GET", headers=None):
        return self.server.request(method, path, headers=headers)

    # ------------------------------------------------------------------------------------
    def test_serving(self):
        status, headers, page = self.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        for name, value in SECURITY_HEADERS.items():
            self.assertEqual(headers.get(name), value, name)
        text = page.decode()
        self.assertIn('<script type="module" src="/web/app.js"></script>', text)
        # Nothing inline, nothing from elsewhere: the strict CSP needs no exception.
        self.assertNotRegex(text, r"<script(?![^>]*\bsrc=)[^>]*>", "an inline script")
        self.assertNotRegex(text, r"<style|\sstyle=|\son[a-z]+=", "inline style or handler")
        self.assertNotRegex(text, r"(src|href)=\"(https?:)?//", "an external resource")
        self.assertEqual(self.get("/web/")[2], page)
        self.assertEqual(self.get("/web/index.html")[2], page)

        # Every module the UI loads, with its type; none writes server data as HTML.
        modules = set(re.findall(r'src="/web/([a-z_]+\.js)"', text))
        seen = set()
        while modules:
            name = modules.pop()
            seen.add(name)
            status, headers, body = self.get("/web/" + name)
            self.assertEqual(status, 200, name)
            self.assertEqual(headers["content-type"], "text/javascript; charset=utf-8", name)
            self.assertEqual(headers["content-security-policy"], CSP, name)
            js = body.decode()
            for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                           "eval(", "new Function"):
                self.assertNotIn(banned, js, name)
            modules |= set(re.findall(r"from '\./([a-z_]+\.js)'", js)) - seen
        self.assertGreaterEqual(len(seen), 5, seen)
        for path, kind in (("/web/app.css", "text/css; charset=utf-8"),
                           ("/web/favicon.svg", "image/svg+xml")):
            status, headers, _ = self.get(path)
            self.assertEqual((status, headers["content-type"]), (200, kind), path)

        # HEAD: the headers of GET, no body.
        status, headers, body = self.get("/", "HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(int(headers["content-length"]), len(page))
        self.assertEqual(headers["content-security-policy"], CSP)

        # Other methods: 405, still with the security headers.
        for method, path in (("POST", "/"), ("PUT", "/web/app.js"), ("DELETE", "/web/app.css"),
                             ("POST", "/web/index.html")):
            status, headers, _ = self.get(path, method)
            self.assertEqual(status, 405, (method, path))
            self.assertEqual(headers.get("allow"), "GET, HEAD")
            self.assertEqual(headers.get("x-frame-options"), "DENY")


    def test_no_path_traversal(self):
        with open(os.path.join(self.data, "halleyd.cfg"), "rb") as f:
            config_text = f.read()
        self.assertIn(b"AdminUsers", config_text)
        attempts = ["/web/../halleyd.cfg", "/web/..%2fhalleyd.cfg", "/web/%2e%2e/halleyd.cfg",
                    "/web/%2e%2e%2fhalleyd.cfg", "/web/../../../../../etc/passwd",
                    "/web/..\\halleyd.cfg", "/web/....//halleyd.cfg", "/web//etc/passwd",
                    "/web/./index.html", "/web/app.js%00.cfg", "/web/halleyd.cfg",
                    "/web/halley-users.db3", "/../halleyd.cfg", "/halleyd.cfg", "//halleyd.cfg",
                    "/web/%252e%252e/halleyd.cfg", "/web/app.js/../../halleyd.cfg",
                    "/web/" + os.path.join(self.data, "halleyd.cfg")]
        for path in attempts:
            for method in ("GET", "HEAD"):
                status, _, body = self.get(path, method)
                self.assertIn(status, (400, 404), (method, path))
                self.assertNotIn(b"AdminUsers", body, path)
                self.assertNotIn(b"root:", body, path)

    # ------------------------------------------------------------------------------------
    def test_admin_ui_in_chromium(self):
        if not os.access(CHROMIUM, os.X_OK) or not shutil.which("node") or \
                not os.path.exists(PLAYWRIGHT):
            self.fail("needs /usr/bin/chromium, node and tests/node's playwright-core: "
                      "run scripts/install-deps")
        done_job, running_job = self.make_jobs()
        lobby_device = self.join_lobby()
        version = self.admin_api("admin/meta/version")["Version"]
        artifacts = os.fsdecode(self.wd.sub("artifacts"))
        os.makedirs(artifacts, exist_ok=True)
        env = dict(os.environ)
        env.update(HALLEY_URL=self.base, HALLEY_ADMIN_USER=self.admin[0],
                   HALLEY_ADMIN_PASSWORD=self.admin[1], HALLEY_NEW_USER=NEW_USER,
                   HALLEY_NEW_PASSWORD=NEW_PASSWORD, HALLEY_RESET_PASSWORD=RESET_PASSWORD,
                   HALLEY_JOB_USER=JOB_USER, HALLEY_JOB_PASSWORD=JOB_PASSWORD,
                   HALLEY_LOBBY_DEVICE=lobby_device, HALLEY_JOB_DONE=done_job,
                   HALLEY_JOB_RUNNING=running_job, HALLEY_LOG_MESSAGE=LOG_MESSAGE,
                   HALLEY_VERSION=version, HALLEY_ARTIFACTS=artifacts, HALLEY_CHROMIUM=CHROMIUM)
        stderr_path = os.path.join(artifacts, "driver.stderr")
        with open(stderr_path, "wb") as stderr:
            driver = subprocess.Popen(["node", DRIVER], env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)
        self.procs.append(driver)
        checks = {"user-added": self.check_user_added,
                  "vault-requested": self.check_vault_requested,
                  "password-reset": self.check_password_reset,
                  "device-registered": self.check_device_registered,
                  "device-dispatched": self.check_device_dispatched,
                  "user-deleted": self.check_user_deleted}
        # A thread reads the driver's lines, so that a silent driver cannot hang the test.
        events = queue.Queue()

        def pump():
            for line in driver.stdout:
                events.put(line)
            events.put(None)

        threading.Thread(target=pump, daemon=True).start()
        steps, result = [], None
        deadline = time.monotonic() + DRIVER_TIMEOUT
        while result is None:
            try:
                line = events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.fail(f"the browser driver timed out after {DRIVER_TIMEOUT}s; passed: "
                          f"{steps}\n{self.driver_stderr(stderr_path)}")
            if line is None:
                self.fail(f"the browser driver exited ({driver.wait()}) after {steps}\n"
                          f"{self.driver_stderr(stderr_path)}")
            try:
                event = json.loads(line)
            except ValueError:
                harness.log(f"driver: {line.rstrip()}")
                continue
            kind = event.get("event")
            if kind == "step":
                steps.append(event["name"])
                harness.log(f"ui: {event['name']}")
            elif kind == "checkpoint":
                try:
                    checks[event["name"]]()
                except BaseException:
                    # Let the driver close the browser before the failure ends the test.
                    driver.stdin.write("stop\n")
                    driver.stdin.close()
                    driver.wait(timeout=30)
                    raise
                harness.log(f"api: {event['name']} checked")
                driver.stdin.write("ok\n")
                driver.stdin.flush()
            elif kind in ("done", "failed"):
                result = event
        self.assertEqual(result["event"], "done",
                         f"{result.get('message')}\nafter {len(steps)} passing steps "
                         f"(screenshot in {artifacts} with --keep)\n"
                         f"{self.driver_stderr(stderr_path)}")
        self.assertEqual(driver.wait(timeout=30), 0)
        driver.stdin.close()
        driver.stdout.close()
        self.assertEqual(result["assertions"], len(steps))
        self.assertGreaterEqual(len(steps), 60)
        harness.log(f"{len(steps)} browser checks and {len(checks)} API checkpoints passed "
                    f"({result['expected_console_errors']} console notes of failed API calls, "
                    "all made on purpose)")

    def driver_stderr(self, path):
        with open(path, "rb") as f:
            return "--- driver stderr ---\n" + f.read().decode("utf-8", "replace")[-4000:]

    # A finished backup job with a log, then (a second later, so it is the user's last) a
    # running one, both reported through the user API as a device reports them.
    def make_jobs(self):
        self.admin_api("admin/add-user", TargetUser=JOB_USER, TargetPassword=JOB_PASSWORD)
        auth = (JOB_USER, JOB_PASSWORD)

        def user_api(endpoint, **form):
            status, reply = self.server.api(endpoint, auth=auth, **form)
            self.assertEqual(status, 200, reply)
            return reply

        user_api("user/web/register-device", DeviceID="laptop-1", FriendlyName="laptop")
        job = {"Classification": 4001, "SourceGUID": "item-1", "DestinationGUID": "vault-1",
               "DeviceID": "laptop-1"}
        done = user_api("user/web/job/start", Job=job)["JobID"]
        user_api("user/web/job/log", JobID=done, Entries=[
            {"Severity": "I", "Message": "started"},
            {"Severity": "W", "Message": LOG_MESSAGE}])
        user_api("user/web/job/finish", JobID=done, Status=5000,
                 Job={"TotalFiles": 42, "TotalSize": 1572864, "UploadSize": 1048576})
        time.sleep(1.1)
        running = user_api("user/web/job/start", Job=job)["JobID"]
        return done, running

    # A fresh machine waiting in the registration lobby (`backup-tool login join-lobby`).
    def join_lobby(self):
        self.lobby = Device(self.wd.path, "lobbybox")
        self.joining = subprocess.Popen(
            [harness.OPTIONS.backup_tool, "login", "join-lobby", self.base], env=self.lobby.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(self.joining)
        device = self.lobby.device_id()
        deadline = time.monotonic() + 60
        while not any(c["DeviceID"] == device
                      for c in self.admin_api("admin/installation/list-active").values()):
            self.assertIsNone(self.joining.poll(), "join-lobby exited")
            self.assertLess(time.monotonic(), deadline, "the device did not reach the lobby")
            time.sleep(0.3)
        return device

    # --- what the UI did, checked through the API -------------------------------------------
    def check_user_added(self):
        self.assertIn(NEW_USER, self.admin_api("admin/list-users"))
        profile = self.admin_api("admin/get-user-profile", TargetUser=NEW_USER)
        self.assertEqual(profile["Username"], NEW_USER)
        self.assertTrue(profile["PasswordRecovery"], "StoreRecoveryCode was not sent")
        status, reply = self.server.api("user/web/session/start", auth=(NEW_USER, NEW_PASSWORD))
        self.assertEqual(status, 200, reply)

    def check_vault_requested(self):
        profile = self.admin_api("admin/get-user-profile", TargetUser=NEW_USER)
        vaults = list(profile["Destinations"].values())
        self.assertEqual(len(vaults), 1, vaults)
        self.assertEqual(vaults[0]["DestinationType"], 1003)
        self.assertIn(vaults[0]["CometBucket"], self.admin_api("admin/storage/list-buckets"))

    def check_password_reset(self):
        status, reply = self.server.api("user/web/session/start", auth=(NEW_USER, RESET_PASSWORD))
        self.assertEqual(status, 200, reply)
        status, reply = self.server.api("user/web/session/start", auth=(NEW_USER, NEW_PASSWORD))
        self.assertEqual(status, 401, reply)

    def check_device_registered(self):
        _, err = self.joining.communicate(timeout=60)
        self.assertEqual(self.joining.returncode, 0, err.decode(errors="replace"))
        self.assertEqual(self.lobby.status(), "Logged in, unlocked (2)")
        devices = self.admin_api("admin/get-user-profile", TargetUser=JOB_USER)["Devices"]
        self.assertIn(self.lobby.device_id(), devices)
        # Its background service connects, for the UI's dispatcher actions.
        daemon = subprocess.Popen([harness.OPTIONS.backup_tool, "daemon", "--poll-seconds", "1"],
                                  env=self.lobby.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.procs.append(daemon)
        deadline = time.monotonic() + 60
        while not any(c["DeviceID"] == self.lobby.device_id() and c["Username"] == JOB_USER
                      for c in self.admin_api("admin/dispatcher/list-active").values()):
            self.assertIsNone(daemon.poll(), "the daemon exited")
            self.assertLess(time.monotonic(), deadline, "the daemon did not connect")
            time.sleep(0.3)

    def check_device_dispatched(self):
        actions = [e.get("action") for e in self.server.log_entries()
                   if e.get("event") == "dispatch" and e.get("admin") == self.admin[0]]
        self.assertIn("refetch-profile", actions)
        self.assertIn("drop-connection", actions)

    def check_user_deleted(self):
        self.assertNotIn(NEW_USER, self.admin_api("admin/list-users"))
        self.admin_api("admin/get-user-profile", expect=404, TargetUser=NEW_USER)
        self.assertIn(JOB_USER, self.admin_api("admin/list-users"))


if __name__ == "__main__":
    harness.main()
