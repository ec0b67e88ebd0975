#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""backup-tool behind an HTTP proxy (Debian's tinyproxy) and a SOCKS5 proxy (microsocks), as
the product's manual promises: HTTP_PROXY / HTTPS_PROXY in either case, ALL_PROXY, NO_PROXY,
proxy URLs with user:password@, http:// and socks5:// / socks5h:// proxies.

Every case proves that the traffic went through the proxy in two independent ways:
  1. the proxy's own record: tinyproxy's log has a "Request" line for each request it got
     (for plain http://, the absolute URL of every PUT of every object the vault holds; for
     https://, the CONNECT of the tunnel); microsocks prints "connected to HOST:PORT" for
     every connection it forwards, and each backup-tool run must add at least one;
  2. a negative control: the same command with the proxy variable pointing at a closed port
     fails with exit 14 (retries exhausted), naming that port, so the client did not go
     direct. NO_PROXY=127.0.0.1 with the dead proxy set makes it work again, and with the live
     proxy set leaves the proxy's record untouched.

  a) HTTP_PROXY (upper case) for an s3:http:// vault: init, backup, check --read-data,
     restore; http_proxy wins over HTTP_PROXY.
  b) http_proxy with user:password@ against tinyproxy's BasicAuth; a wrong or missing
     password fails without printing the password.
  c) HTTPS_PROXY for an s3:https:// vault (TLS s3rver, --cacert) through CONNECT; HTTP_PROXY
     is not used for https:// nor HTTPS_PROXY for http://.
  d) ALL_PROXY=socks5://user:pass@ and HTTP_PROXY=socks5h://user:pass@ (microsocks -u/-P);
     with socks5h the proxy resolves the vault's host name; a wrong SOCKS password fails.
  e) (with --halleyd) `login prompt` to the account server and a rest: vault through the
     HTTP proxy; the bucket key never reaches the proxy's log.

A proxy that refuses the credentials is named in the message (not the vault's server), and a
mistyped proxy scheme fails at once without printing the proxy password.

scripts/install-deps installs tinyproxy, microsocks and s3rver; a missing one fails the test.

  python3 tests/integration/test_proxies.py --backup-tool PATH [--halleyd PATH]
"""

import os
import re
import shutil
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from s3servers import S3rver, _PortBlock, _Reaper, _spawn, _stop, _tail  # noqa: E402

# Distinctive, so that a leak cannot be a coincidence.
PROXY_USER = "proxyuser"
PROXY_PASSWORD = "Pr0xy-pa55-7q3z"
WRONG_PASSWORD = "Wr0ng-pa55-k8v1"
DEAD_RETRY_SECONDS = "2"


def proxy_free_env(env):
    """`env` without any proxy variable of the caller (http_proxy, NO_PROXY, ...)."""
    return {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}


def listening(port):
    """Whether a TCP socket listens on 127.0.0.1:`port` (from /proc: no probe connection that
    a proxy would log)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


class _Proxy:
    """A proxy daemon on 127.0.0.1 with its output in a file; stopped on close."""

    name = "proxy"

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.proc = None
        self._reaper = None
        self.port = None

    def _launch(self, argv, log_path, tag):
        self._reaper = _Reaper(tag)
        self.proc = _spawn(argv, log_path, self._reaper)
        deadline = time.monotonic() + 20
        while not self._ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n"
                                     f"{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start:\n{self.output()}")
            time.sleep(0.02)

    def _ready(self):
        return listening(self.port)

    def url(self, scheme="http", auth=None):
        creds = f"{auth[0]}:{auth[1]}@" if auth else ""
        return f"{scheme}://{creds}127.0.0.1:{self.port}"

    def close(self):
        _stop(self.proc)
        self.proc = None
        if self._reaper:
            self._reaper.close()
            self._reaper = None


class Tinyproxy(_Proxy):
    """tinyproxy in the foreground (-d) with a config file of our own; its log has a line
    "Request (file descriptor N): METHOD TARGET HTTP/1.1" for every request it receives,
    CONNECT included."""

    name = "tinyproxy"
    REQUEST = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP/")

    def __init__(self, directory, auth=None):
        super().__init__(directory)
        self.auth = auth
        self.conf = os.path.join(directory, "tinyproxy.conf")
        self.log_path = os.path.join(directory, "tinyproxy.log")
        self.out_path = os.path.join(directory, "tinyproxy.out")
        ports = _PortBlock(1)
        self.port = ports.base
        lines = [f"Port {self.port}", "Listen 127.0.0.1", "Allow 127.0.0.1",
                 f'LogFile "{self.log_path}"', "LogLevel Info", "MaxClients 200",
                 "Timeout 120"]
        if auth:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        ports.release()
        self._launch([shutil.which("tinyproxy"), "-d", "-c", self.conf], self.out_path,
                     self.conf)

    def _ready(self):
        return listening(self.port) and "Accepting connections" in self.log()

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def output(self):
        return _tail(self.out_path) + "\n" + _tail(self.log_path)

    def requests(self):
        """[(method, target)] of every request received so far, in order."""
        return [m.groups() for m in self.REQUEST.finditer(self.log())]

    def count(self):
        return len(self.requests())


class Microsocks(_Proxy):
    """microsocks, with -u/-P when `auth` is given (not -1: every connection authenticates);
    it prints
    "client[N] IP: connected to HOST:PORT" for every connection it forwards."""

    name = "microsocks"
    CONNECTED = re.compile(r"client\[\d+\] \S+: connected to (\S+):(\d+)")

    def __init__(self, directory, auth=None):
        super().__init__(directory)
        self.out_path = os.path.join(directory, "microsocks.out")
        ports = _PortBlock(1)
        self.port = ports.base
        argv = [shutil.which("microsocks"), "-i", "127.0.0.1", "-p", str(self.port)]
        if auth:
            argv += ["-u", auth[0], "-P", auth[1]]
        ports.release()
        self._launch(argv, self.out_path, str(self.port))

    def output(self):
        return _tail(self.out_path)

    def connections(self):
        """[(host, port)] of every connection forwarded so far."""
        try:
            with open(self.out_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        return [(h, int(p)) for h, p in self.CONNECTED.findall(text)]

    def count(self):
        return len(self.connections())


def restored_path(target, src):
    return os.path.join(target, src.lstrip(b"/"))


class Proxies(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [p for p in ("tinyproxy", "microsocks") if not shutil.which(p)]
        if missing:
            raise RuntimeError(f"{' and '.join(missing)} needed by this test are not installed "
                               "(scripts/install-deps installs them)")
        ok = S3rver.available()
        if not ok:
            raise RuntimeError("s3rver is needed (scripts/install-deps installs it): " + ok.reason)
        cls.root = harness.Workdir("proxies-s3")
        s3dir = os.path.join(os.fsdecode(cls.root.path), "s3rver")
        os.makedirs(s3dir)
        cls.s3 = cls.s3_tls = None
        try:
            cls.s3 = S3rver(s3dir).start()
            cls.s3_tls = S3rver(s3dir, tls=True).start()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.s3dir = s3dir
        cls.buckets = set()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.s3_tls, cls.s3):
            if s:
                s.stop()
        cls.root.close()

    def setUp(self):
        super().setUp()
        self.rng, _ = harness.seeded_rng(self.id().split(".")[-1])
        # A closed port: bound, never listening, held for the whole test, so a connection to
        # it is refused and nobody else can start listening there meanwhile.
        self._dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._dead.bind(("127.0.0.1", 0))
        self.dead_port = self._dead.getsockname()[1]
        self.addCleanup(self._dead.close)
        self.proxies = 0

    # --- helpers ------------------------------------------------------------------------------
    def tinyproxy(self, auth=None):
        self.proxies += 1
        p = Tinyproxy(os.fsdecode(self.wd.sub(f"tinyproxy-{self.proxies}")), auth)
        self.addCleanup(p.close)
        return p

    def microsocks(self, auth=None):
        self.proxies += 1
        p = Microsocks(os.fsdecode(self.wd.sub(f"microsocks-{self.proxies}")), auth)
        self.addCleanup(p.close)
        return p

    def dead_url(self, scheme="http", auth=None):
        creds = f"{auth[0]}:{auth[1]}@" if auth else ""
        return f"{scheme}://{creds}127.0.0.1:{self.dead_port}"

    def vault(self, bucket, tls=False, host="127.0.0.1", proxy_env=None):
        server = self.s3_tls if tls else self.s3
        if bucket not in self.buckets:
            server.make_bucket(bucket)  # both instances serve one directory
            self.buckets.add(bucket)
        endpoint = server.endpoint.replace("127.0.0.1", host)
        v = harness.Vault(f"s3:{endpoint}/{bucket}/p", self.wd.path)
        v.env = proxy_free_env(v.env)
        v.env.update(server.env())
        if tls:
            v.env["BACKUP_TOOL_CACERT"] = server.cert
        v.env.update(proxy_env or {})
        v.bucket = bucket
        return v

    def stored_keys(self, bucket):
        """Keys of the objects s3rver holds in `bucket` (from its directory)."""
        root = os.path.join(self.s3dir, bucket)
        keys = []
        for dirpath, _, names in os.walk(root):
            for n in names:
                if n.endswith("._S3rver_object"):
                    keys.append(os.path.relpath(os.path.join(dirpath, n), root)
                                [:-len("._S3rver_object")])
        return sorted(keys)

    def build_tree(self, name):
        """A small tree: a few packs' worth of data is enough to cross a proxy many times."""
        src = self.wd.sub(name)
        os.makedirs(os.path.join(src, b"dir", b"sub"))
        harness.write_file(os.path.join(src, b"random-1500KiB"),
                           harness.pseudo_random_bytes(self.rng, 1500 << 10))
        harness.write_file(os.path.join(src, b"dir", b"zeros-1MiB"), bytes(1 << 20))
        for i in range(20):
            harness.write_file(os.path.join(src, b"dir", b"sub", b"small-%d" % i),
                               harness.pseudo_random_bytes(self.rng, self.rng.randrange(0, 5000)),
                               mode=0o600 if i % 3 else 0o755)
        os.symlink(b"../random-1500KiB", os.path.join(src, b"dir", b"link"))
        os.link(os.path.join(src, b"dir", b"sub", b"small-1"), os.path.join(src, b"hardlink"))
        harness.set_xattr(os.path.join(src, b"random-1500KiB"), "user.note", b"via a proxy")
        harness.set_times_bottom_up(src, self.rng)
        return src

    def assertNoSecret(self, r, *secrets):
        for s in secrets:
            if s in r.stdout or s in r.stderr:
                self.fail(f"the secret {s!r} is in backup-tool's output\n{r.describe()}")

    def through(self, proxy, v, *args, expect=0, extra_env=None):
        """Runs backup-tool and asserts that `proxy` recorded at least one more request or
        connection than before; returns (Run, the new records)."""
        before = proxy.count()
        r = v.bt(*args, expect=expect, extra_env=extra_env)
        self.assertNoSecret(r, PROXY_PASSWORD, WRONG_PASSWORD)
        records = (proxy.requests() if isinstance(proxy, Tinyproxy)
                   else proxy.connections())[before:]
        if not records:
            self.fail(f"{proxy.name} recorded nothing: it was bypassed\n{r.describe()}\n"
                      f"{proxy.name}:\n{proxy.output()}")
        return r, records

    def roundtrip(self, proxy, v, name):
        """init, backup, check --read-data, restore through `proxy`; each command must reach
        the proxy. Returns the records of each step."""
        rec = {}
        _, rec["init"] = self.through(proxy, v, "init")
        src = self.build_tree(f"src-{name}")
        _, rec["backup"] = self.through(proxy, v, "--json", "backup", src)
        _, rec["check"] = self.through(proxy, v, "check", "--read-data")
        target = self.wd.sub(f"restore-{name}")
        _, rec["restore"] = self.through(proxy, v, "restore", "latest", "--target", target)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
        harness.log(f"{name}: {proxy.name} recorded " +
                    ", ".join(f"{len(x)} for {k}" for k, x in rec.items()))
        return rec

    def controls(self, proxy, v, var, scheme="http", auth=None):
        """The negative controls with `var` set to a closed port (exit 14 naming that port) and
        NO_PROXY (direct again, with the dead proxy set; nothing recorded with the live one)."""
        dead = self.dead_url(scheme, auth)
        env = proxy_free_env(v.env)
        env[var] = dead
        env["BACKUP_TOOL_RETRY_SECONDS"] = DEAD_RETRY_SECONDS
        r = v.bt("snapshots", env=env)
        self.assertExit(r, 14, f"{var}={dead} (a closed port) must fail: the client went direct?")
        self.assertIn(str(self.dead_port), r.stderr)
        self.assertNoSecret(r, PROXY_PASSWORD)
        harness.log(f"{var} at a closed port: exit 14 after {r.seconds:.1f} s")
        for no_proxy in ("NO_PROXY", "no_proxy"):
            env[no_proxy] = "127.0.0.1,localhost"
            r = v.bt("snapshots", env=env)
            self.assertExit(r, 0, f"{no_proxy} must bypass the dead {var}")
            del env[no_proxy]
        # With the live proxy and NO_PROXY, the proxy sees nothing.
        before = proxy.count()
        r = v.bt("snapshots", extra_env={"NO_PROXY": "127.0.0.1,localhost"})
        self.assertExit(r, 0)
        self.assertEqual(proxy.count(), before,
                         f"NO_PROXY=127.0.0.1 and yet {proxy.name} saw traffic:\n{proxy.output()}")

    def assertEveryObjectWasPutThrough(self, proxy, v):
        """Every object of the vault's bucket was PUT through tinyproxy (plain http)."""
        puts = {t for m, t in proxy.requests() if m == "PUT"}
        base = f"{self.s3.endpoint}/{v.bucket}/"
        keys = self.stored_keys(v.bucket)
        self.assertTrue(any(k.startswith("p/data/") for k in keys), keys)
        missing = [k for k in keys if base + k not in puts]
        self.assertEqual(missing, [], f"objects stored without a PUT through {proxy.name}")
        harness.log(f"all {len(keys)} objects of the bucket were PUT through {proxy.name}")

    # --- a) ------------------------------------------------------------------------------------
    def test_a_upper_case_http_proxy_s3(self):
        tp = self.tinyproxy()
        v = self.vault("case-a", proxy_env={"HTTP_PROXY": tp.url()})
        rec = self.roundtrip(tp, v, "a")
        self.assertEveryObjectWasPutThrough(tp, v)
        # Reading goes through the proxy too: check --read-data and restore GET the packs.
        base = f"{self.s3.endpoint}/case-a/p/data/"
        for step in ("check", "restore"):
            self.assertTrue(any(m == "GET" and t.startswith(base) for m, t in rec[step]),
                            f"{step}: no GET of a pack through tinyproxy: {rec[step]}")
        # Every request the proxy got was one of the vault's, in the clear (no CONNECT).
        self.assertTrue(all(t.startswith(self.s3.endpoint + "/") for _, t in tp.requests()),
                        tp.requests())
        self.controls(tp, v, "HTTP_PROXY")
        # libcurl's rule: http_proxy (lower case) wins over HTTP_PROXY.
        self.through(tp, v, "snapshots",
                     extra_env={"http_proxy": tp.url(), "HTTP_PROXY": self.dead_url()})

    # --- b) ------------------------------------------------------------------------------------
    def test_b_lower_case_http_proxy_with_credentials(self):
        auth = (PROXY_USER, PROXY_PASSWORD)
        tp = self.tinyproxy(auth=auth)
        v = self.vault("case-b", proxy_env={"http_proxy": tp.url(auth=auth)})
        self.roundtrip(tp, v, "b")
        self.assertEveryObjectWasPutThrough(tp, v)
        self.controls(tp, v, "http_proxy", auth=auth)

        # A wrong password (tinyproxy 1.11 answers 401) and none at all (407) fail; neither
        # password is printed.
        for what, creds in (("wrong password", (PROXY_USER, WRONG_PASSWORD)),
                            ("no credentials", None)):
            r, recs = self.through(tp, v, "snapshots", expect=None,
                                   extra_env={"http_proxy": tp.url(auth=creds)})
            self.assertNotEqual(r.rc, 0, f"{what}: the proxy refused and yet exit 0\n"
                                f"{r.describe()}")
            harness.log(f"{what}: exit {r.rc}: {r.stderr.strip().splitlines()[-1]}")

        # The same through a CONNECT tunnel for an https:// vault.
        vt = self.vault("case-b", tls=True)
        for what, creds in (("CONNECT, wrong password", (PROXY_USER, WRONG_PASSWORD)),
                            ("CONNECT, no credentials", None)):
            r, recs = self.through(tp, vt, "snapshots", expect=None,
                                   extra_env={"HTTPS_PROXY": tp.url(auth=creds),
                                              "BACKUP_TOOL_RETRY_SECONDS": DEAD_RETRY_SECONDS})
            self.assertNotEqual(r.rc, 0, r.describe())
            self.assertTrue(all(m == "CONNECT" for m, _ in recs), recs)
            harness.log(f"{what}: exit {r.rc} after {r.seconds:.1f} s: "
                        f"{r.stderr.strip().splitlines()[-1]}")
        self.through(tp, vt, "snapshots", extra_env={"HTTPS_PROXY": tp.url(auth=auth)})

        # Nothing backup-tool wrote (its cache, the vault) holds the proxy password.
        for root in (os.fsdecode(self.wd.sub("xdg-cache")), os.path.join(self.s3dir, "case-b")):
            for dirpath, _, names in os.walk(root):
                for n in names:
                    with open(os.path.join(dirpath, n), "rb") as f:
                        self.assertNotIn(PROXY_PASSWORD.encode(), f.read(),
                                         os.path.join(dirpath, n))

    def test_b_refusal_by_the_proxy_names_the_proxy(self):
        """When the HTTP proxy refuses the credentials, the message names the proxy (not the
        vault's credentials), without the password."""
        auth = (PROXY_USER, PROXY_PASSWORD)
        tp = self.tinyproxy(auth=auth)
        v = self.vault("case-b2", proxy_env={"http_proxy": tp.url(auth=auth)})
        v.init()
        vt = self.vault("case-b2", tls=True)
        for var, vault in (("http_proxy", v), ("HTTPS_PROXY", vt)):
            for creds in ((PROXY_USER, WRONG_PASSWORD), None):
                r = vault.bt("snapshots", extra_env={
                    var: tp.url(auth=creds), "BACKUP_TOOL_RETRY_SECONDS": DEAD_RETRY_SECONDS})
                self.assertNotEqual(r.rc, 0)
                self.assertNoSecret(r, PROXY_PASSWORD, WRONG_PASSWORD)
                self.assertIn(f"127.0.0.1:{tp.port}", r.stderr, r.describe())

    def test_b_a_mistyped_proxy_scheme_does_not_print_the_password(self):
        """libcurl's "Unsupported proxy scheme for 'sock5://user:PASSWORD@...'" is printed
        without the password, and the mistake is not retried."""
        v = self.vault("case-b3")
        v.init()
        for bad in ("sock5", "htp"):
            r = v.bt("snapshots", extra_env={
                "ALL_PROXY": f"{bad}://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{self.dead_port}",
                "BACKUP_TOOL_RETRY_SECONDS": "0"})
            self.assertNotEqual(r.rc, 0, r.describe())
            self.assertNoSecret(r, PROXY_PASSWORD)

    # --- c) ------------------------------------------------------------------------------------
    def test_c_https_proxy_connect_to_tls_s3(self):
        tp = self.tinyproxy()
        v = self.vault("case-c", tls=True, proxy_env={"HTTPS_PROXY": tp.url()})
        tunnel = f"127.0.0.1:{self.s3_tls.endpoint.rsplit(':', 1)[1]}"
        rec = self.roundtrip(tp, v, "c")
        for step, records in rec.items():
            self.assertIn(("CONNECT", tunnel), records, step)
        # The proxy saw tunnels only: no request of the vault in the clear.
        self.assertEqual({r for r in tp.requests()}, {("CONNECT", tunnel)})
        self.controls(tp, v, "HTTPS_PROXY")
        # HTTP_PROXY is for http:// URLs only, HTTPS_PROXY for https:// only.
        r = v.bt("snapshots", env=dict(proxy_free_env(v.env), HTTP_PROXY=self.dead_url(),
                                       http_proxy=self.dead_url()))
        self.assertExit(r, 0, "HTTP_PROXY must not apply to an https:// vault")
        plain = self.vault("case-c", proxy_env={"HTTPS_PROXY": self.dead_url(),
                                                "https_proxy": self.dead_url()})
        plain.bt("snapshots", expect=0)

    # --- d) ------------------------------------------------------------------------------------
    def test_d_socks5_all_proxy_and_socks5h(self):
        auth = (PROXY_USER, PROXY_PASSWORD)
        ms = self.microsocks(auth=auth)
        s3port = int(self.s3.endpoint.rsplit(":", 1)[1])
        v = self.vault("case-d", proxy_env={"ALL_PROXY": ms.url("socks5", auth)})
        rec = self.roundtrip(ms, v, "d socks5")
        for step, conns in rec.items():
            self.assertEqual(set(conns), {("127.0.0.1", s3port)}, step)
        self.controls(ms, v, "ALL_PROXY", scheme="socks5", auth=auth)

        # socks5h: the proxy resolves the name (microsocks prints the name it was given).
        vh = self.vault("case-d", host="localhost",
                        proxy_env={"HTTP_PROXY": ms.url("socks5h", auth)})
        _, conns = self.through(ms, vh, "snapshots")
        self.assertEqual(set(conns), {("localhost", s3port)})
        src = self.build_tree("src-d-h")
        _, conns = self.through(ms, vh, "backup", src)
        self.assertEqual(set(conns), {("localhost", s3port)})
        self.controls(ms, vh, "HTTP_PROXY", scheme="socks5h", auth=auth)

        # An https:// vault through the same SOCKS proxy: the tunnel is to the TLS port.
        vt = self.vault("case-d", tls=True, proxy_env={"ALL_PROXY": ms.url("socks5", auth)})
        tls_port = int(self.s3_tls.endpoint.rsplit(":", 1)[1])
        _, conns = self.through(ms, vt, "check", "--read-data")
        self.assertEqual(set(conns), {("127.0.0.1", tls_port)})

        # A wrong SOCKS password fails without printing it.
        r = v.bt("snapshots", extra_env={"ALL_PROXY": ms.url("socks5", (PROXY_USER,
                                                                        WRONG_PASSWORD)),
                                         "BACKUP_TOOL_RETRY_SECONDS": DEAD_RETRY_SECONDS})
        self.assertNotEqual(r.rc, 0, r.describe())
        self.assertNoSecret(r, PROXY_PASSWORD, WRONG_PASSWORD)
        harness.log(f"wrong SOCKS password: exit {r.rc} after {r.seconds:.1f} s: "
                    f"{r.stderr.strip().splitlines()[-1]}")

    # --- e) ------------------------------------------------------------------------------------
    def test_e_account_server_and_rest_vault(self):
        if not harness.OPTIONS.halleyd:
            self.skipTest("needs --halleyd")
        from server import Halleyd, register_bucket, setup_admin
        data = os.fsdecode(self.wd.sub("halleyd"))
        reaper = _Reaper(data)  # stops halleyd should this process die without cleaning up
        self.addCleanup(reaper.close)
        s = Halleyd(data)
        reaper.add(s.proc)
        self.addCleanup(lambda: s.proc.poll() is None and s.kill())
        admin = setup_admin(s)
        status, reply = s.api("admin/add-user", auth=admin, TargetUser="alice",
                              TargetPassword="alice's password 7")
        self.assertEqual(status, 200, reply)
        bucket, key = register_bucket(s, admin)
        tp = self.tinyproxy()

        # login prompt: the account server's API through the proxy.
        config_dir = os.fsdecode(self.wd.sub("device-config"))
        dev = harness.Vault("unused", self.wd.path)
        dev.env = proxy_free_env(harness.base_env())
        dev.env.update(BACKUP_TOOL_CONFIG_DIR=config_dir, BACKUP_TOOL_DEVICE_ENTROPY="laptop",
                       BACKUP_TOOL_PASSWORD="alice's password 7", HTTP_PROXY=tp.url())
        login = ("login", "prompt", "--server", f"http://{s.address}", "--username", "alice")
        _, recs = self.through(tp, dev, *login)
        self.assertTrue(any(m == "POST" and t.startswith(f"http://{s.address}/api/v1/")
                            for m, t in recs), recs)
        r = dev.bt(*login, extra_env={"HTTP_PROXY": self.dead_url(),
                                      "BACKUP_TOOL_RETRY_SECONDS": DEAD_RETRY_SECONDS})
        self.assertNotEqual(r.rc, 0, "login with a dead proxy must fail: went direct?\n"
                            + r.describe())
        self.assertIn(str(self.dead_port), r.stderr)
        harness.log(f"login through a closed proxy port: exit {r.rc} after {r.seconds:.1f} s")
        dev.bt(*login, expect=0, extra_env={"HTTP_PROXY": self.dead_url(),
                                            "NO_PROXY": "127.0.0.1"})

        # A rest: vault (a bucket of halleyd's Storage Role) through the proxy.
        v = harness.Vault(s.rest_url(bucket, key), self.wd.path)
        v.env = proxy_free_env(v.env)
        v.env["HTTP_PROXY"] = tp.url()
        self.roundtrip(tp, v, "e")
        puts = [t for m, t in tp.requests() if m in ("PUT", "POST")
                and f"/storage/{bucket}/data/" in t]
        self.assertTrue(puts, tp.requests())
        self.assertNotIn(key, tp.log(), "the bucket key is in the proxy's log")
        v.env["BACKUP_TOOL_RETRY_SECONDS"] = DEAD_RETRY_SECONDS
        self.controls(tp, v, "HTTP_PROXY")


if __name__ == "__main__":
    harness.main()
