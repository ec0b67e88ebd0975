# SPDX-License-Identifier: Apache-2.0
"""Real S3 servers on loopback for integration tests: CephRgw and S3rver.

    ok = CephRgw.available()            # or S3rver.available(); false with .reason
    if not ok:
        self.skipTest(ok.reason)
    with CephRgw(os.path.join(workdir, "ceph")) as s3:
        s3.make_bucket("vault")
        env = dict(os.environ, **s3.env())  # and f"s3:{s3.endpoint}/vault" for restic

CephRgw is a real S3 implementation (radosgw of Debian's Ceph 16.2.15). It checks signatures,
payload hashes and MD5s, and it implements conditional and multipart requests. S3rver (npm
s3rver 3.7.1, installed under tests/node) is a light fake: quick to start, but it checks almost
nothing. scripts/install-deps installs both. Start-up on a busy 2-core machine: CephRgw
2.7-3.8 s (two clusters at once: 10 s), then the first bucket takes 0.3 s and the first PUT
0.25 s; stopping takes 0.2-0.5 s. S3rver starts in 0.4-0.6 s.

What they did with this module's SigV4 client (s3rver the same over HTTP and HTTPS):

  request                           s3rver 3.7.1                  Ceph radosgw 16.2.15
  --------------------------------  ----------------------------  ----------------------------
  SigV4, right signature            200                           200
  SigV4, wrong secret key           200: signature NOT checked    403 SignatureDoesNotMatch
  unknown access key                403 InvalidAccessKeyId        403 InvalidAccessKeyId
  no Authorization (anonymous)      200, even for a PUT           403 AccessDenied
  wrong x-amz-content-sha256        200, object stored            400 XAmzContentSHA256Mismatch
  payload hash UNSIGNED-PAYLOAD     200                           200
  aws-chunked PUT (restic, http)    stored verbatim, chunk        decoded; restic works over
                                    headers included (*1)         plain http
  wrong Content-MD5                 200, object stored            400 BadDigest
  ListObjectsV2 paging (max-keys,   correct (*2)                  correct (the token is the
  continuation-token)                                             last key)
  ListObjectsV2 delimiter,          correct                       correct
  start-after
  GET Range bytes=a-b, a-, past end 206, 206, 416 InvalidRange    206, 206, 416 InvalidRange
  GET Range bytes=-N (suffix)       206 but WRONG: bytes 0-N      206, correct
  PUT If-None-Match: * (exists)     200, overwrites               412 PreconditionFailed; in a
                                                                  versioned (locked) bucket 200,
                                                                  a new version over it
  PUT If-None-Match: * (new key)    200                           200
  HEAD Content-Length; missing key  correct; 404                  correct; 404
  DELETE of a missing key           204                           204
  multipart create, part, complete  work; ETag is the MD5 of the  work; HEAD ETag is
                                    whole object, no "-N"         "md5-of-md5s-N", but the
                                                                  complete response has an
                                                                  EMPTY <ETag></ETag> (*3)
  multipart part < 5 MiB, not last  accepted                      400 EntityTooSmall
  list parts, abort, list uploads   405, 405, 501: missing; an    200, 204, 200; part after
                                    "aborted" upload stays open   abort: 404 NoSuchUpload
  complete with unknown uploadId    500 InternalError             500 InternalError "already in
                                                                  progress" (S3: 404 NoSuchUpload)
  PUT bucket that one owns          409 BucketAlreadyExists       200
  DELETE non-empty bucket           409 BucketNotEmpty            409 BucketNotEmpty
  PUT bucket with x-amz-bucket-     200, header ignored: no       200, Object Lock and versioning
  object-lock-enabled: true         Object Lock, no versioning    on (200 and ignored for a
                                                                  bucket that exists without)
  GET ?object-lock                  501 NotImplemented            200 <ObjectLockEnabled>Enabled;
                                                                  404 ObjectLockConfiguration-
                                                                  NotFoundError without
  PUT with x-amz-object-lock-mode,  200, headers ignored          200, kept (HEAD, GET ?retention
  -retain-until-date                                              show it); 400 InvalidRequest in
                                                                  a bucket without Object Lock
  the same on POST ?uploads         not tried (cannot abort)      200, but the completed object
                                                                  has NO retention (*4)
  GET / PUT ?retention              501, 501                      200; PUT may extend, not
                                                                  shorten (403 AccessDenied)
  DELETE ?versionId= of a retained  -                             403 AccessDenied "forbidden by
  version                                                         object lock" (204 with
                                                                  x-amz-bypass-governance-
                                                                  retention in governance mode)
  DELETE without a version, locked  204, object gone              204, delete marker: HEAD 404,
  bucket                                                          not listed, the version stays

(*1) restic 0.14 signs plain-http uploads with STREAMING-AWS4-HMAC-SHA256-PAYLOAD; s3rver keeps
     the framing in the object and the repository is unreadable. Upload through an
     S3rver(tls=True) on the same directory (restic --cacert s3.cert). Reading through either
     instance works.
(*2) Only because S3rver sets NODE_OPTIONS=--openssl-legacy-provider: s3rver makes its tokens
     with DES, which Node 20's OpenSSL 3 has only in the legacy provider. Without that, every
     truncated ListObjectsV2 page is a 500 InternalError.
(*3) Apparently the radosgw bug of Red Hat BZ 2266579; take the ETag from a HEAD instead.
(*4) Set it after the upload with PUT ?retention (S3BlobStore does); AWS keeps the retention a
     multipart upload was started with.
"""

import collections
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import secrets
import shutil
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S3RVER_BIN = os.path.join(REPO_ROOT, "tests", "node", "node_modules", ".bin", "s3rver")
CEPH_BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph-authtool",
                 "monmaptool", "ceph")

Response = collections.namedtuple("Response", "status headers body")
Response.__doc__ = "An HTTP response: status, headers (dict, lower-case names), body bytes."


class ServerError(RuntimeError):
    """A server did not start (the message has the tail of its logs) or refused a request."""


class Availability:
    """Whether a server can run here; false with `reason` when it cannot (for skipTest)."""

    def __init__(self, reason=""):
        self.reason = reason

    def __bool__(self):
        return not self.reason

    def __repr__(self):
        return f"Availability({self.reason!r})"


# ---------------------------------------------------------------------------------------------
# SigV4


def _quote(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_v4(method, host, path, query, headers, payload_hash, access_key, secret_key, region,
            service="s3", now=None):
    """Returns `headers` plus Host, X-Amz-Date, X-Amz-Content-Sha256 and Authorization.

    `path` must already be URI-encoded (S3 does not encode it twice); `query` is a list of
    (name, value) pairs, not encoded. Every header passed in is signed."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    out = dict(headers)
    out.update({"Host": host, "X-Amz-Date": amz_date, "X-Amz-Content-Sha256": payload_hash})
    canon = {k.lower(): " ".join(str(v).split()) for k, v in out.items()}
    signed = ";".join(sorted(canon))
    canonical_query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(
        (str(k), str(v)) for k, v in query))
    canonical_request = "\n".join([
        method, path, canonical_query,
        "".join(f"{k}:{canon[k]}\n" for k in sorted(canon)), signed, payload_hash])
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope,
        hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), day), region), service),
                "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={signed}, Signature={signature}")
    return out


# ---------------------------------------------------------------------------------------------
# Ports and processes


class _PortBlock:
    """`count` consecutive loopback ports held by bound (not listening) sockets.

    Holding the sockets until a daemon is about to bind stops other test processes, and other
    servers in this one, from choosing the same ports. The block lies below the kernel's
    ephemeral range so outgoing connections cannot take a port in the meantime."""

    def __init__(self, count):
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_lo, eph_hi = map(int, f.read().split())
        lo, hi = (10000, eph_lo) if eph_lo - 10000 >= 4000 else (eph_hi + 1, 65535)
        for _ in range(200):
            base = random.randrange(lo, hi - count)
            socks = []
            try:
                for port in range(base, base + count):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    socks.append(s)
                    s.bind(("127.0.0.1", port))
            except OSError:
                for s in socks:
                    s.close()
                continue
            self.base, self._socks = base, socks
            return
        raise ServerError(f"no block of {count} free loopback ports found")

    def release(self):
        for s in self._socks:
            s.close()
        self._socks = []


def _tail(path, lines=25):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# The reaper reads "add PID" lines, then "clear" on a normal stop. Reaching the end of its input
# without "clear" means this process died without stopping its daemons (SIGKILL, a timeout of
# the test runner): it then stops them itself, newest first, TERM then KILL after 10 s. It
# signals only PIDs whose command line still contains TAG, in case a PID was reused.
_REAPER = r"""
import os, signal, sys, time
tag, pids = sys.argv[1].encode(), []
for line in sys.stdin:
    cmd, _, arg = line.partition(" ")
    if cmd == "add":
        pids.append(int(arg))
    elif cmd.strip() == "clear":
        pids = []
def ours(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return tag in f.read()
    except OSError:
        return False
for pid in reversed(pids):
    if ours(pid):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + 10
    while ours(pid) and time.monotonic() < end:
        time.sleep(0.1)
    if ours(pid):
        os.kill(pid, signal.SIGKILL)
"""


class _Reaper:
    """Stops a server's daemons if this process dies without doing so (see _REAPER).

    Daemons run in their own session, so a Ctrl-C reaches only this process, whose exit path
    then stops them in order; the reaper covers the deaths that run no Python code."""

    def __init__(self, tag):
        self.proc = subprocess.Popen([sys.executable, "-c", _REAPER, tag],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     start_new_session=True, text=True)

    def _send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass

    def add(self, proc):
        self._send(f"add {proc.pid}")

    def close(self):
        """Called after a normal stop: nothing is left to reap."""
        self._send("clear")
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()


def _spawn(argv, log_path, reaper, env=None):
    """Starts a daemon in its own session with output to `log_path`."""
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
    reaper.add(proc)
    return proc


def _stop(proc, grace=10.0):
    """TERM, then KILL after `grace` seconds; always reaps."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


# ---------------------------------------------------------------------------------------------
# Common part


class Fixture:
    """A test server's lifecycle: start() runs the subclass's _start(deadline) within
    self.timeout seconds and stop()s what was started if it fails; a context manager."""

    timeout = 30
    startup_seconds = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Starts the server and returns self; a failure stops what was started and re-raises."""
        t0 = time.monotonic()
        try:
            self._start(t0 + self.timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self


class _S3Server(Fixture):
    """What both servers share: credentials, a SigV4 client and the context-manager protocol."""

    region = "us-east-1"

    def __init__(self, directory, timeout):
        self.dir = os.path.abspath(directory)
        self.timeout = timeout
        self.endpoint = None
        self.access_key = self.secret_key = None
        self.ssl_context = None

    def env(self):
        """Credentials and region as the AWS tools (and restic) read them."""
        return {"AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region}

    # --- HTTP
    def request(self, method, path="/", query=(), body=b"", headers=None, *,
                payload_hash=None, sign=True, timeout=60):
        """Sends one S3 request (path style: "/bucket/key", not encoded) and returns a Response.

        `query` is a dict or a list of pairs; `payload_hash` overrides the SHA-256 of `body`
        in X-Amz-Content-Sha256 (e.g. "UNSIGNED-PAYLOAD"); `sign=False` sends it anonymously."""
        url = urllib.parse.urlsplit(self.endpoint)
        body = body or b""
        qpairs = list(query.items()) if isinstance(query, dict) else list(query)
        epath = _quote(path, safe="/-_.~")
        headers = dict(headers or {})
        if sign:
            if payload_hash is None:
                payload_hash = hashlib.sha256(body).hexdigest()
            headers = sign_v4(method, url.netloc, epath, qpairs, headers, payload_hash,
                              self.access_key, self.secret_key, self.region)
        target = epath
        if qpairs:
            target += "?" + "&".join(
                _quote(str(k)) + ("=" + _quote(str(v)) if v != "" else "") for k, v in qpairs)
        if url.scheme == "https":
            conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout,
                                               context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
        try:
            conn.request(method, target, body=body if body or method in ("PUT", "POST")
                         else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def make_bucket(self, name):
        """Creates bucket `name`; raises ServerError unless the server says 200."""
        r = self.request("PUT", "/" + name)
        if r.status != 200:
            raise ServerError(f"PUT /{name}: {r.status} {r.body[:500]!r}")

    def _answers(self):
        try:
            self.request("GET", "/", sign=False, timeout=2)
            return True
        except (OSError, http.client.HTTPException):
            return False


# ---------------------------------------------------------------------------------------------
# Ceph radosgw

_CEPH_CONF = """\
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_port}]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
ms bind port min = {ms_min}
ms bind port max = {ms_max}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = {dir}/keyring
run dir = {dir}/run
admin socket = {dir}/run/$cluster-$name.asok
pid file = {dir}/run/$cluster-$name.pid
log file = {dir}/log/$cluster-$name.log
crash dir = {dir}/crash
mon data = {dir}/mon/$cluster-$id
osd data = {dir}/osd/$cluster-$id
mgr data = {dir}/mgr/$cluster-$id
rgw data = {dir}/rgw/$cluster-$id
# one OSD: replication size 1, no redundancy warnings, few PGs (radosgw makes 7 pools)
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
mon osd full ratio = 0.97
mon osd backfillfull ratio = 0.96
mon osd nearfull ratio = 0.95
# memstore keeps the data in the OSD's RAM (about 2x) and does not enforce this strictly
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
debug ms = 0
# every mon write waits paxos_propose_interval (1 s by default); radosgw makes ~15 of them
# on its first start and more on the first bucket, object and multipart upload
paxos propose interval = 0.1
paxos min wait = 0.01
[mon]
mon cluster log file = {dir}/log/$cluster.log
[osd]
keyring = {dir}/osd/$cluster-$id/keyring
[client.rgw.gw]
# endpoint= binds loopback only; tcp_nodelay=1 avoids 40 ms Nagle/delayed-ACK stalls
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw enable usage log = false
# the lifecycle workers sleep 5 s at a time and radosgw's shutdown waits for them
rgw enable lc threads = false
log file = {dir}/log/rgw.log
"""


class CephRgw(_S3Server):
    """A one-node Ceph cluster (mon, memstore OSD, radosgw; no mgr) with one S3 user.

    Everything lives under `directory` (absent or empty at start); nothing goes to /etc/ceph
    or /var/lib/ceph. stop() takes the daemons down in the order that does not hang radosgw."""

    region = "default"
    PORTS = 34  # mon, rgw and 32 for the messenger (the OSD binds about 4)

    def __init__(self, directory, timeout=120, memstore_bytes=1 << 30):
        super().__init__(directory, timeout)
        self.memstore_bytes = memstore_bytes
        self.conf = os.path.join(self.dir, "ceph.conf")
        self._procs = {}  # name -> Popen
        self._ports = None
        self._reaper = None

    @staticmethod
    def available():
        """False, with the reason, when a Ceph binary is missing."""
        missing = [b for b in CEPH_BINARIES if not shutil.which(b)]
        if missing:
            return Availability(f"missing {' '.join(missing)} (run scripts/install-deps)")
        return Availability()

    # --- start
    def _start(self, deadline):
        ok = self.available()
        if not ok:
            raise ServerError(ok.reason)
        if os.path.isdir(self.dir) and os.listdir(self.dir):
            raise ServerError(f"{self.dir} is not empty")
        for d in ("mon/ceph-a", "osd/ceph-0", "rgw", "run", "log", "crash"):
            os.makedirs(os.path.join(self.dir, d))
        self._ports = _PortBlock(self.PORTS)
        mon_port, rgw_port = self._ports.base, self._ports.base + 1
        fsid = str(uuid.uuid4())
        with open(self.conf, "w") as f:
            f.write(_CEPH_CONF.format(
                fsid=fsid, dir=self.dir, mon_port=mon_port, rgw_port=rgw_port,
                ms_min=mon_port + 2, ms_max=mon_port + self.PORTS - 1,
                memstore_bytes=self.memstore_bytes))

        # cephx: the mon imports every key of the mkfs keyring, radosgw's included
        keyring = os.path.join(self.dir, "keyring")
        self._run(deadline, "ceph-authtool", "--create-keyring", keyring, "--gen-key",
                  "-n", "mon.", "--cap", "mon", "allow *")
        self._run(deadline, "ceph-authtool", keyring, "--gen-key", "-n", "client.admin",
                  "--cap", "mon", "allow *", "--cap", "osd", "allow *",
                  "--cap", "mgr", "allow *", "--cap", "mds", "allow *")
        self._run(deadline, "ceph-authtool", keyring, "--gen-key", "-n", "client.rgw.gw",
                  "--cap", "mon", "allow rw", "--cap", "osd", "allow rwx",
                  "--cap", "mgr", "allow rw")
        monmap = os.path.join(self.dir, "monmap")
        self._run(deadline, "monmaptool", "--create", "--fsid", fsid,
                  "--addv", "a", f"[v2:127.0.0.1:{mon_port}]", monmap)
        self._run(deadline, "ceph-mon", "-c", self.conf, "--mkfs", "-i", "a",
                  "--monmap", monmap, "--keyring", keyring)
        self._ports.release()
        self._spawn("mon", "ceph-mon", "-c", self.conf, "-f", "-i", "a")
        self._wait(deadline, "mon listening", lambda: self._connects(mon_port))

        # OSD: `ceph-osd --mkfs --key` does not write the keyring the OSD needs, so write it
        osd_uuid = str(uuid.uuid4())
        osd_key = self._run(deadline, "ceph-authtool", "--gen-print-key").strip()
        new_json = os.path.join(self.dir, "osd", "new.json")
        with open(new_json, "w") as f:
            json.dump({"cephx_secret": osd_key}, f)
        osd_id = self._run(deadline, "ceph", "-c", self.conf, "--connect-timeout", "30",
                           "osd", "new", osd_uuid, "-i", new_json).strip()
        os.remove(new_json)
        if osd_id != "0":
            raise ServerError(f"ceph osd new returned id {osd_id!r}, expected 0")
        self._run(deadline, "ceph-authtool", "--create-keyring",
                  os.path.join(self.dir, "osd", "ceph-0", "keyring"),
                  "-n", "osd.0", "--add-key", osd_key)
        self._run(deadline, "ceph-osd", "-c", self.conf, "-i", "0", "--mkfs",
                  "--key", osd_key, "--osd-uuid", osd_uuid)
        self._spawn("osd", "ceph-osd", "-c", self.conf, "-f", "-i", "0")

        # radosgw waits for the OSD by itself, so it starts at once; it answers HTTP only
        # once its pools exist
        self._spawn("rgw", "radosgw", "-c", self.conf, "-f", "-n", "client.rgw.gw")
        self.endpoint = f"http://127.0.0.1:{rgw_port}"
        self._wait(deadline, "radosgw answering", self._answers)

        self.access_key = "".join(secrets.choice(string.ascii_uppercase + string.digits)
                                  for _ in range(20))
        self.secret_key = secrets.token_urlsafe(30)
        self._run(deadline, "radosgw-admin", "-c", self.conf, "user", "create", "--uid=test",
                  "--display-name=test user", f"--access-key={self.access_key}",
                  f"--secret-key={self.secret_key}")

    def _run(self, deadline, *argv):
        """Runs a short command and returns its stdout; a failure raises with the logs."""
        remaining = max(1.0, deadline - time.monotonic())
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=remaining,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ServerError(f"timeout running {' '.join(argv)}\n{self.logs()}") from None
        if p.returncode != 0:
            raise ServerError(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stdout}"
                              f"{p.stderr}\n{self.logs()}")
        return p.stdout

    def _spawn(self, name, *argv):
        if self._reaper is None:
            self._reaper = _Reaper(self.conf)
        self._procs[name] = _spawn(argv, os.path.join(self.dir, "log", f"{name}.out"),
                                   self._reaper)

    @staticmethod
    def _connects(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def _wait(self, deadline, what, ready):
        while not ready():
            for name, p in self._procs.items():
                if p.poll() is not None:
                    raise ServerError(f"ceph {name} exited with {p.returncode} while waiting "
                                      f"for {what}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise ServerError(f"timeout waiting for {what}\n{self.logs()}")
            time.sleep(0.1)

    def logs(self, lines=25):
        """The tail of every daemon log, for error messages."""
        logdir = os.path.join(self.dir, "log")
        parts = []
        for name in sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []:
            text = _tail(os.path.join(logdir, name), lines)
            if text:
                parts.append(f"--- {logdir}/{name}\n{text}")
        return "\n".join(parts)

    # --- stop
    def stop(self):
        """Stops rgw, then the OSD, then the mon (rgw hangs in shutdown without its OSD)."""
        if self._ports:
            self._ports.release()
        for name in ("rgw", "osd", "mon"):
            _stop(self._procs.pop(name, None))
        if self._reaper:
            self._reaper.close()
            self._reaper = None


# ---------------------------------------------------------------------------------------------
# s3rver


def make_self_signed_cert(directory):
    """Writes a self-signed certificate for IP 127.0.0.1 and its key into `directory`;
    returns (cert_path, key_path). Clients trust it by using the certificate as their CA."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return cert, key


class S3rver(_S3Server):
    """s3rver (a fake S3 in Node, tests/node) serving `directory` on 127.0.0.1.

    Several instances may serve one directory, e.g. plain HTTP and TLS: restic signs plain-HTTP
    uploads with aws-chunked encoding, which s3rver stores verbatim, so restic must upload
    through TLS. With tls=True and no cert, a self-signed one is made in the directory (as
    files, which s3rver does not list as buckets)."""

    def __init__(self, directory, tls=False, cert=None, key=None, timeout=30):
        super().__init__(directory, timeout)
        self.access_key = self.secret_key = "S3RVER"
        self.tls = tls or bool(cert)
        self.cert, self.key = cert, key
        self.proc = None
        self.log_path = None
        self._reaper = None

    @staticmethod
    def available():
        """False, with the reason, when node or the installed s3rver is missing."""
        if not os.path.exists(S3RVER_BIN):
            return Availability(f"missing {S3RVER_BIN} (run scripts/install-deps)")
        if not shutil.which("node"):
            return Availability("missing node")
        return Availability()

    def _start(self, deadline):
        ok = self.available()
        if not ok:
            raise ServerError(ok.reason)
        os.makedirs(self.dir, exist_ok=True)
        argv = [S3RVER_BIN, "--directory", self.dir, "--address", "127.0.0.1", "--silent"]
        scheme = "http"
        if self.tls:
            if not self.cert:
                self.cert, self.key = make_self_signed_cert(self.dir)
            argv += ["--key", self.key, "--cert", self.cert]
            self.ssl_context = ssl.create_default_context(cafile=self.cert)
            scheme = "https"
        ports = _PortBlock(1)
        self.endpoint = f"{scheme}://127.0.0.1:{ports.base}"
        self.log_path = os.path.join(self.dir, f".s3rver-{scheme}-{ports.base}.log")
        argv += ["--port", str(ports.base)]
        ports.release()
        # s3rver's ListObjectsV2 continuation tokens use DES, which Node's OpenSSL 3 has only
        # in its legacy provider; without it every truncated listing is a 500 InternalError
        env = dict(os.environ)
        env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + " --openssl-legacy-provider").strip()
        self._reaper = _Reaper(self.dir)
        self.proc = _spawn(argv, self.log_path, self._reaper, env)
        while not self._answers():
            if self.proc.poll() is not None:
                raise ServerError(f"s3rver exited with {self.proc.returncode}:\n"
                                  f"{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise ServerError(f"timeout waiting for s3rver:\n{_tail(self.log_path)}")
            time.sleep(0.05)

    def stop(self):
        _stop(self.proc)
        self.proc = None
        if self._reaper:
            self._reaper.close()
            self._reaper = None


# ---------------------------------------------------------------------------------------------
# Self-test: python3 tests/integration/s3servers.py


def _smoke(name, server):
    """Bucket, put, get, list, delete through `server`; prints what each step took."""
    times = []

    def step(what, method, path, expect, **kw):
        t = time.monotonic()
        r = server.request(method, path, **kw)
        times.append(f"{what} {1000 * (time.monotonic() - t):.0f} ms")
        if r.status != expect:
            raise ServerError(f"{name}: {what}: {r.status} {r.body[:300]!r}")
        return r

    bucket = "smoke-" + secrets.token_hex(4)
    t = time.monotonic()
    server.make_bucket(bucket)
    times.append(f"bucket {1000 * (time.monotonic() - t):.0f} ms")
    data = os.urandom(100_000)
    step("put", "PUT", f"/{bucket}/dir/obj ü+=&", 200, body=data)
    assert step("get", "GET", f"/{bucket}/dir/obj ü+=&", 200).body == data
    listing = step("list", "GET", f"/{bucket}", 200, query={"list-type": "2"}).body
    assert "<Key>dir/obj ü+=&amp;</Key>".encode() in listing, listing
    step("delete", "DELETE", f"/{bucket}/dir/obj ü+=&", 204)
    step("get deleted", "GET", f"/{bucket}/dir/obj ü+=&", 404)
    print(f"{name}: started in {server.startup_seconds:.1f} s; " + ", ".join(times))


def _self_test():
    base = tempfile.mkdtemp(prefix="s3servers-")
    try:
        ok = S3rver.available()
        if ok:
            with S3rver(os.path.join(base, "s3rver")) as plain, \
                    S3rver(os.path.join(base, "s3rver"), tls=True) as tls:
                _smoke("s3rver http ", plain)
                _smoke("s3rver https", tls)
                plain.make_bucket("shared")
                tls.request("PUT", "/shared/obj", body=b"via TLS")
                assert plain.request("GET", "/shared/obj").body == b"via TLS"
        else:
            print("s3rver: skipped:", ok.reason)
        ok = CephRgw.available()
        if ok:
            t = time.monotonic()
            with CephRgw(os.path.join(base, "ceph")) as rgw:
                _smoke("ceph rgw    ", rgw)
                t_stop = time.monotonic()
            print(f"ceph rgw: stopped in {time.monotonic() - t_stop:.1f} s, "
                  f"{time.monotonic() - t:.1f} s in all")
        else:
            print("ceph rgw: skipped:", ok.reason)
        left = _processes_naming(base)
        if left:
            raise ServerError("processes left behind:\n" + "\n".join(left))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("s3servers self-test OK")


def _processes_naming(text):
    """Command lines of the running processes that contain `text`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(pid) != os.getpid():
            found.append(f"{pid} {cmdline}")
    return found


if __name__ == "__main__":
    sys.exit(_self_test())
