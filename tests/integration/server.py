# SPDX-License-Identifier: Apache-2.0
"""A halleyd process for integration tests: started on a free loopback port with its own data
directory, driven through its HTTP API, stopped with SIGTERM (or killed)."""

import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.parse

import harness
from harness import OPTIONS


class Halleyd:
    def __init__(self, data_dir, listen="127.0.0.1:0", config=None, extra_args=()):
        """Starts halleyd. `config`, if given, is written to DATA/halleyd.cfg first (a dict);
        `listen=None` serves the configured ListenAddresses."""
        if not OPTIONS.halleyd:
            raise AssertionError("--halleyd is required for this test")
        self.data_dir = data_dir
        os.makedirs(data_dir, exist_ok=True)
        if config is not None:
            with open(os.path.join(data_dir, "halleyd.cfg"), "w") as f:
                json.dump(config, f, indent=2)
        self.log_path = os.path.join(data_dir, "..", os.path.basename(data_dir) + ".log")
        # The log is appended across restarts; this process's lines start here.
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.log_file = open(self.log_path, "ab")
        argv = [OPTIONS.halleyd, "--data-dir", data_dir, *extra_args]
        if listen:
            argv += ["--listen", listen]
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=self.log_file)
        self.address = self._wait_listening()
        self.tls_context = None
        self.scheme = "http"

    def _wait_listening(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.log_entries():
                if entry.get("event") == "listening":
                    return entry["address"]
            if self.proc.poll() is not None:
                raise AssertionError(f"halleyd exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError("halleyd did not start listening:\n" + self.log())

    def log(self):
        """This process's log (JSON lines on stderr)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def log_entries(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    # --- HTTP -------------------------------------------------------------------------------
    def connection(self, timeout=60):
        host, port = self.address.rsplit(":", 1)
        if self.scheme == "https":
            return http.client.HTTPSConnection(host, int(port), timeout=timeout,
                                               context=self.tls_context)
        return http.client.HTTPConnection(host, int(port), timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        c = self.connection(timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def api(self, endpoint, auth=None, headers=None, **form):
        """POSTs to /api/v1/<endpoint>; auth is (user, password). Non-string values are
        JSON-encoded as the product's API expects. Returns (http status, decoded JSON)."""
        fields = {}
        if auth:
            fields.update(Username=auth[0], AuthType="Password", Password=auth[1])
        for k, v in form.items():
            fields[k] = v if isinstance(v, str) else json.dumps(v)
        body = urllib.parse.urlencode(fields).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        status, _, data = self.request("POST", "/api/v1/" + endpoint, body, h)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data

    def storage(self, method, bucket, key, path, body=None, headers=None):
        auth = base64.b64encode(f"{bucket}:{key}".encode()).decode()
        h = {"Authorization": "Basic " + auth}
        h.update(headers or {})
        return self.request(method, f"/storage/{bucket}/{path}", body, h)

    def rest_url(self, bucket, key):
        return f"rest:{self.scheme}://{bucket}:{key}@{self.address}/storage/{bucket}/"

    # --- lifecycle --------------------------------------------------------------------------
    def stop(self, timeout=30):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("halleyd did not stop within %ds on SIGTERM" % timeout)
        self.log_file.close()
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()


# A minimal halleyd.cfg (the roles on, storage under the data directory); tests copy and edit it.
MINIMAL_CONFIG = {
    "AdminUsers": [],
    "AuthenticationRole": {"RoleEnabled": True, "RemoteStorage": [
        {"Type": "comet", "Description": "This server's Storage Role", "RemoteAddress": "",
         "ID": "default-self", "Default": True}]},
    "StorageRole": {"RoleEnabled": True,
                    "Storage": {"DestinationType": 1002, "LocalcopyPath": "storage"}},
    "ListenAddresses": [{"ListenAddress": "127.0.0.1:8060"}],
}


def config(**changes):
    """A deep copy of MINIMAL_CONFIG with top-level keys replaced."""
    c = json.loads(json.dumps(MINIMAL_CONFIG))
    c.update(changes)
    return c


class HalleydTestCase(harness.TestCase):
    """A TestCase that starts halleyd processes (self.start) on self.data and kills any still
    running at the end."""

    def setUp(self):
        super().setUp()
        self.rng, _ = harness.seeded_rng(self.id().split(".")[-1])
        self.data = os.fsdecode(self.wd.sub("data"))
        self.servers = []
        self.procs = []  # other processes a test starts (daemons, clients): killed at the end

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        for s in self.servers:
            if s.proc.poll() is None:
                s.kill()
        super().tearDown()

    def admin_api(self, endpoint, expect=200, server=None, **form):
        """An admin call (self.admin's credentials) to `server` (default self.server), whose
        status must be `expect` (None: any); returns the reply."""
        status, reply = (server or self.server).api(endpoint, auth=self.admin, **form)
        if expect is not None:
            self.assertEqual(status, expect, reply)
        return reply

    def start(self, **kw):
        s = Halleyd(self.data, **kw)
        self.servers.append(s)
        return s

    def start_tls(self):
        """halleyd with a TLS listener on a fresh self-signed certificate for 127.0.0.1;
        returns (server, the certificate's path: the clients' CA file)."""
        cert = os.fsdecode(self.wd.sub("cert.pem"))
        keyfile = os.fsdecode(self.wd.sub("key.pem"))
        r = harness.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                         "-keyout", keyfile, "-out", cert])
        self.assertExit(r, 0)
        s = self.start(config=config(ListenAddresses=[
            {"ListenAddress": "127.0.0.1:0", "SSLCertPath": cert, "SSLCertKey": keyfile}]),
            listen=None)
        s.scheme = "https"
        s.tls_context = ssl.create_default_context(cafile=cert)
        return s, cert


def setup_admin(server, user="admin", password="admin password 1"):
    status, reply = server.api("admin/add-first-admin-user", TargetUser=user,
                               TargetPassword=password)
    assert status == 200, reply
    return (user, password)


def register_bucket(server, admin, **form):
    status, reply = server.api("admin/storage/register-bucket", auth=admin, **form)
    assert status == 200, reply
    return reply["NewBucketID"], reply["NewBucketKey"]
