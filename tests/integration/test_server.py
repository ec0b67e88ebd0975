#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""halleyd on loopback (port 0): the default configuration, the admin API, and the Storage
Role driven by Debian's restic over `rest:` (restic.md §3), including spanning, TLS, hostile
input, login protection, SIGTERM and kill -9 during uploads.

  python3 tests/integration/test_server.py --backup-tool PATH --halleyd PATH [--runs N]
"""

import base64
import glob
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import HalleydTestCase, config as server_config, register_bucket, setup_admin  # noqa: E402,E501

V2 = "application/vnd.x.restic.rest.v2"


class ServerTestBase(HalleydTestCase):
    def make_source(self, name="src", files=30, max_size=200_000):
        src = self.wd.mkdir(name)
        for i in range(files):
            size = self.rng.randrange(0, max_size)
            harness.write_file(os.path.join(src, b"f%03d" % i),
                               harness.pseudo_random_bytes(self.rng, size))
        return src

    def restic(self, server, bucket, key, *args, extra_env=None, timeout=600):
        env = harness.base_env()
        env["RESTIC_REPOSITORY"] = server.rest_url(bucket, key)
        env["RESTIC_CACHE_DIR"] = os.fsdecode(self.wd.sub("restic-cache"))
        if extra_env:
            env.update(extra_env)
        return harness.run(["restic", *args], env=env, timeout=timeout)

    def restic_ok(self, *a, **kw):
        r = self.restic(*a, **kw)
        self.assertExit(r, 0)
        return r

    def roundtrip(self, server, bucket, key, src, extra=()):
        """restic init (if needed), backup, check --read-data, restore; asserts identical."""
        self.restic_ok(server, bucket, key, "backup", *extra, src)
        self.restic_ok(server, bucket, key, "check", "--read-data", *extra)
        target = self.wd.sub("restore-%d" % self.rng.randrange(1 << 30))
        self.restic_ok(server, bucket, key, "restore", "latest", "--target", target, *extra)
        self.assertTreesEqual(src, target + src)



class ServerTest(ServerTestBase):
    def test_default_config_health_and_first_admin(self):
        s = self.start()
        cfg_path = os.path.join(self.data, "halleyd.cfg")
        self.assertEqual(stat.S_IMODE(os.stat(cfg_path).st_mode), 0o600)
        cfg = json.load(open(cfg_path))
        self.assertEqual(cfg["ListenAddresses"][0]["ListenAddress"], "127.0.0.1:8060")
        self.assertTrue(cfg["AuthenticationRole"]["RoleEnabled"])
        self.assertTrue(cfg["StorageRole"]["RoleEnabled"])
        self.assertEqual(cfg["StorageRole"]["Storage"]["DestinationType"], 1002)
        self.assertTrue(any(t.get("Default") for t in cfg["AuthenticationRole"]["RemoteStorage"]))
        self.assertEqual(s.request("GET", "/healthz")[0], 200)
        self.assertEqual(s.request("GET", "/readyz")[0], 200)

        # Nothing but add-first-admin-user works before an admin exists.
        status, reply = s.api("admin/meta/version", auth=("admin", "x"))
        self.assertEqual(status, 401, reply)
        admin = setup_admin(s)
        status, reply = s.api("admin/add-first-admin-user", TargetUser="evil", TargetPassword="x")
        self.assertEqual(status, 403, reply)
        self.assertEqual(reply["Status"], 403)
        status, reply = s.api("admin/meta/version", auth=admin)
        self.assertEqual(status, 200, reply)
        self.assertTrue(reply["StorageRole"] and reply["AuthenticationRole"])
        status, reply = s.api("admin/meta/version", auth=(admin[0], "wrong"))
        self.assertEqual((status, reply["Status"]), (401, 401))

        # Sessions stand in for the password.
        status, reply = s.api("admin/account/session-start", auth=admin)
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply["SessionType"], "admin")
        status, reply = s.api("admin/meta/version", Username="admin", AuthType="SessionKey",
                              SessionKey=reply["SessionKey"])
        self.assertEqual(status, 200, reply)
        status, _ = s.api("admin/meta/version", Username="admin", AuthType="SessionKey",
                          SessionKey="0" * 64)
        self.assertEqual(status, 401)

        # The admin's password is stored hashed, never in the clear.
        text = open(cfg_path).read()
        self.assertNotIn(admin[1], text)
        self.assertIn("$2b$", text)
        self.assertEqual(s.stop(), 0)
        self.assertTrue(any(e.get("event") == "stopped" for e in s.log_entries()))

    def test_restic_backs_up_checks_and_restores_through_a_bucket(self):
        s = self.start()
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin)
        src = self.make_source()
        self.restic_ok(s, bucket, key, "init")
        self.roundtrip(s, bucket, key, src)
        # A second backup deduplicates against the first: both snapshots are listed.
        self.restic_ok(s, bucket, key, "backup", src)
        snaps = json.loads(self.restic_ok(s, bucket, key, "snapshots", "--json").stdout)
        self.assertEqual(len(snaps), 2)

        # A wrong key or another bucket's key is refused with 401.
        r = self.restic(s, bucket, "0" * 32, "snapshots")
        self.assertNotEqual(r.rc, 0)
        other, other_key = register_bucket(s, admin)
        self.assertEqual(s.storage("HEAD", bucket, other_key, "config")[0], 401)
        self.assertEqual(s.storage("HEAD", other, key, "config")[0], 401)
        self.assertEqual(s.storage("HEAD", bucket, key, "config")[0], 200)

        # The admin API sees the bucket and measures it as the files on disk.
        status, buckets = s.api("admin/storage/list-buckets", auth=admin)
        self.assertEqual(status, 200)
        self.assertIn(bucket, buckets)
        self.assertTrue(buckets[bucket]["ReadWriteKey"].startswith("$2b$"))
        status, props = s.api("admin/storage/bucket-properties", auth=admin, BucketID=bucket)
        self.assertEqual(status, 200, props)
        on_disk = sum(os.path.getsize(p) for p in glob.glob(
            os.path.join(self.data, "storage", bucket, "**"), recursive=True)
            if os.path.isfile(p) and "/." not in p[len(self.data):])
        self.assertEqual(props["Size"]["Size"], on_disk)
        status, free = s.api("admin/storage/free-space", auth=admin)
        self.assertEqual(status, 200)
        self.assertGreater(free["AvailableBytes"], 0)

        # Files at rest are named by their SHA-256 (sha256sum validates a bucket).
        for p in glob.glob(os.path.join(self.data, "storage", bucket, "data", "*", "*")):
            with open(p, "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), os.path.basename(p))

        # The bucket key and the admin password appear nowhere in the data directory.
        for root, _, files in os.walk(self.data):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    blob = f.read()
                for secret in (key, admin[1]):
                    self.assertNotIn(secret.encode(), blob, os.path.join(root, name))

        # delete-bucket removes the registration and the data.
        status, reply = s.api("admin/storage/delete-bucket", auth=admin, BucketID=bucket)
        self.assertEqual(status, 200, reply)
        self.assertFalse(os.path.exists(os.path.join(self.data, "storage", bucket)))
        self.assertEqual(s.storage("HEAD", bucket, key, "config")[0], 401)

    def test_rest_protocol_status_codes(self):
        s = self.start()
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin, SetBucketValue="proto")
        self.assertEqual(bucket, "proto")
        st = lambda *a, **kw: s.storage(*a, **kw)  # noqa: E731
        self.assertEqual(st("POST", bucket, key, "?create=false")[0], 400)
        self.assertEqual(st("POST", bucket, key, "?create=true")[0], 200)
        self.assertEqual(st("POST", bucket, key, "?create=true")[0], 200)  # idempotent
        self.assertEqual(st("HEAD", bucket, key, "config")[0], 404)
        self.assertEqual(st("POST", bucket, key, "config", b"cfg")[0], 200)
        self.assertEqual(st("POST", bucket, key, "config", b"other")[0], 403)  # never overwrite
        self.assertEqual(st("GET", bucket, key, "config")[2], b"cfg")

        blob = harness.pseudo_random_bytes(self.rng, 100_000)
        name = hashlib.sha256(blob).hexdigest()
        wrong = hashlib.sha256(b"something else").hexdigest()
        self.assertEqual(st("POST", bucket, key, "data/" + wrong, blob)[0], 400)
        self.assertEqual(st("HEAD", bucket, key, "data/" + wrong)[0], 404)
        self.assertEqual(st("POST", bucket, key, "data/" + name, blob)[0], 200)
        # A retried upload of the same content is acknowledged (its first reply may have been
        # lost); different content under the name is refused, and the object is unchanged.
        self.assertEqual(st("POST", bucket, key, "data/" + name, blob)[0], 200)
        altered = blob[:-1] + bytes([blob[-1] ^ 1])  # never equal to blob (b"x" could be)
        self.assertEqual(st("POST", bucket, key, "data/" + name, altered)[0], 400)
        self.assertEqual(st("POST", bucket, key, "data/" + name, blob[:-1])[0], 400)
        status, headers, _ = st("HEAD", bucket, key, "data/" + name)
        self.assertEqual((status, int(headers["content-length"])), (200, len(blob)))
        status, headers, body = st("GET", bucket, key, "data/" + name,
                                   headers={"Range": "bytes=10-19"})
        self.assertEqual((status, body), (206, blob[10:20]))
        self.assertEqual(headers["content-range"], f"bytes 10-19/{len(blob)}")
        status, _, body = st("GET", bucket, key, "data/" + name, headers={"Range": "bytes=99990-"})
        self.assertEqual((status, body), (206, blob[99990:]))
        self.assertEqual(st("GET", bucket, key, "data/" + name,
                            headers={"Range": "bytes=200000-"})[0], 416)
        self.assertEqual(st("GET", bucket, key, "data/" + name)[2], blob)

        status, headers, body = st("GET", bucket, key, "data/", headers={"Accept": V2})
        self.assertEqual(headers["content-type"], V2)
        self.assertEqual(json.loads(body), [{"name": name, "size": len(blob)}])
        status, headers, body = st("GET", bucket, key, "data/")
        self.assertEqual(json.loads(body), [name])
        self.assertEqual(json.loads(st("GET", bucket, key, "locks/")[2]), [])

        self.assertEqual(st("GET", bucket, key, "nosuchtype/" + name)[0], 404)
        self.assertEqual(st("GET", bucket, key, "data/../../etc")[0], 404)
        self.assertEqual(st("GET", bucket, key, "data/" + "A" * 64)[0], 404)
        self.assertEqual(st("DELETE", bucket, key, "data/" + name)[0], 200)
        self.assertEqual(st("DELETE", bucket, key, "data/" + name)[0], 200)  # idempotent
        self.assertEqual(st("HEAD", bucket, key, "data/" + name)[0], 404)
        self.assertEqual(st("PUT", bucket, key, "data/" + name, blob)[0], 405)
        # A truncated upload (the client announced more than it sent) leaves nothing behind.
        host, port = s.address.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as c:
            import base64
            auth = base64.b64encode(f"{bucket}:{key}".encode()).decode()
            c.sendall((f"POST /storage/{bucket}/data/{name} HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: Basic {auth}\r\nContent-Length: {len(blob)}\r\n\r\n")
                      .encode() + blob[:5000])
            c.shutdown(socket.SHUT_WR)
            c.recv(1000)
        self.assertEqual(st("HEAD", bucket, key, "data/" + name)[0], 404)
        leftovers = glob.glob(os.path.join(self.data, "storage", bucket, "data", ".tmp-*"))
        self.assertEqual(leftovers, [])

    def test_bucket_storage_limit_refuses_uploads_beyond_it_with_507(self):
        s = self.start()
        admin = setup_admin(s)
        status, reply = s.api("admin/storage/register-bucket", auth=admin, SetStorageLimitBytes=-1)
        self.assertEqual(status, 400, reply)
        bucket, key = register_bucket(s, admin, SetStorageLimitBytes=250_000)
        self.assertEqual(s.api("admin/storage/list-buckets", auth=admin)[1][bucket]
                         ["StorageLimitBytes"], 250_000)
        st = lambda *a, **kw: s.storage(*a, **kw)  # noqa: E731
        self.assertEqual(st("POST", bucket, key, "?create=true")[0], 200)
        blobs = [harness.pseudo_random_bytes(self.rng, 100_000) for _ in range(3)]
        names = [hashlib.sha256(b).hexdigest() for b in blobs]
        self.assertEqual(st("POST", bucket, key, "data/" + names[0], blobs[0])[0], 200)
        self.assertEqual(st("POST", bucket, key, "data/" + names[1], blobs[1])[0], 200)
        status, _, body = st("POST", bucket, key, "data/" + names[2], blobs[2])
        self.assertEqual(status, 507, body)
        self.assertIn(b"storage limit", body)
        self.assertEqual(st("HEAD", bucket, key, "data/" + names[2])[0], 404)
        # Deleting frees room again.
        self.assertEqual(st("DELETE", bucket, key, "data/" + names[0])[0], 200)
        self.assertEqual(st("POST", bucket, key, "data/" + names[2], blobs[2])[0], 200)
        # A chunked upload (no Content-Length) is stopped at the limit too.
        host, port = s.address.rsplit(":", 1)
        big = harness.pseudo_random_bytes(self.rng, 300_000)
        with socket.create_connection((host, int(port)), timeout=10) as c:
            auth = base64.b64encode(f"{bucket}:{key}".encode()).decode()
            c.sendall((f"POST /storage/{bucket}/data/{hashlib.sha256(big).hexdigest()} HTTP/1.1"
                       f"\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n").encode())
            c.sendall(b"%x\r\n" % len(big) + big + b"\r\n0\r\n\r\n")
            self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 507"))
        # A backup that does not fit fails with the server's reason. (backup-tool: restic 0.14
        # retries a 507 for about 45 s before it gives up.)
        v = harness.Vault(s.rest_url(bucket, key), self.wd.path)
        v.init()
        src = self.make_source(files=5, max_size=400_000)
        r = v.bt("backup", src)
        self.assertEqual(r.rc, 1, r.describe())
        self.assertIn("storage limit", r.stderr)
        # bucket-properties measures what is really there.
        status, props = s.api("admin/storage/bucket-properties", auth=admin, BucketID=bucket)
        self.assertLessEqual(props["Size"]["Size"], 250_000 + 100_000)

    def test_spanned_volumes_balance_and_survive_files_moving(self):
        vols = [os.fsdecode(self.wd.mkdir("vol%d" % i)) for i in (1, 2)]
        cfg = server_config()
        cfg["StorageRole"]["Storage"] = {
            "DestinationType": 1006,
            "SpanTargets": [{"DestinationType": 1002, "LocalcopyPath": v} for v in vols]}
        s = self.start(config=cfg)
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin)
        src = self.make_source(files=40, max_size=2_000_000)
        self.restic_ok(s, bucket, key, "init")
        self.restic_ok(s, bucket, key, "backup", src)

        def packs(vol):
            return glob.glob(os.path.join(vol, bucket, "data", "*", "*"))
        # New packs were spread over both volumes (equal free space: taken in turn).
        self.assertTrue(packs(vols[0]) and packs(vols[1]), (packs(vols[0]), packs(vols[1])))
        # Move every other pack to the other volume while the server runs.
        moved = 0
        for i, p in enumerate(sorted(packs(vols[0]) + packs(vols[1]))):
            if i % 2:
                continue
            src_vol = vols[0] if p.startswith(vols[0] + "/") else vols[1]
            dst_vol = vols[1] if src_vol == vols[0] else vols[0]
            dst = os.path.join(dst_vol, os.path.relpath(p, src_vol))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.move(p, dst)
            moved += 1
        self.assertGreater(moved, 0)
        self.assertTrue(packs(vols[0]) and packs(vols[1]))
        self.restic_ok(s, bucket, key, "check", "--read-data")
        target = self.wd.sub("restore")
        self.restic_ok(s, bucket, key, "restore", "latest", "--target", target)
        self.assertTreesEqual(src, target + src)
        status, free = s.api("admin/storage/free-space", auth=admin)
        self.assertEqual(len(free["Spanned"]["Targets"]), 2)

    def test_tls_listener_with_a_private_ca(self):
        s, cert = self.start_tls()
        self.assertEqual(s.request("GET", "/healthz")[0], 200)
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin)
        src = self.make_source(files=5)
        self.restic_ok(s, bucket, key, "init", "--cacert", cert)
        self.roundtrip(s, bucket, key, src, extra=("--cacert", cert))
        # Without the CA the certificate is refused.
        r = self.restic(s, bucket, key, "snapshots")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("certificate", r.stderr)

    def test_hostile_input_gets_4xx_quickly_and_the_server_stays_up(self):
        s = self.start()
        admin = setup_admin(s)
        deep = "[" * 400_000 + "]" * 400_000
        t0 = time.monotonic()
        status, reply = s.api("admin/meta/server-config/set", auth=admin, Config=deep)
        self.assertEqual(status, 413, reply)  # over 1 MiB as a form
        deep = "[" * 100_000
        status, reply = s.api("admin/meta/server-config/set", auth=admin, Config=deep)
        self.assertEqual(status, 400, reply)
        self.assertLess(time.monotonic() - t0, 5)

        # A 1 GiB form body is refused from its Content-Length, before it is sent.
        host, port = s.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as c:
            t0 = time.monotonic()
            c.sendall(b"POST /api/v1/admin/meta/version HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1073741824\r\n\r\nUsername=a&")
            reply = c.recv(4096)
            self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply)
            self.assertLess(time.monotonic() - t0, 1.5)

        for fields in ({"TargetUser": "\xff\xfe"}, {"BucketID": "x" * 100_000}):
            status, _ = s.api("admin/storage/bucket-properties", auth=admin, **fields)
            self.assertIn(status, (400, 404))
        raw = s.request("POST", "/api/v1/admin/meta/version",
                        b"Username=admin&AuthType=Password&Password=%ff%fe%00", 
                        {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(raw[0], 401)
        status, reply = s.api("admin/storage/register-bucket", auth=admin, SetKeyHashFormat="abc")
        self.assertEqual(status, 400, reply)
        status, reply = s.api("admin/storage/register-bucket", auth=admin,
                              SetBucketValue="../../etc")
        self.assertEqual(status, 400, reply)
        self.assertEqual(s.request("GET", "/api/v1/admin/meta/version")[0], 405)
        self.assertEqual(s.request("POST", "/api/v1/nope", b"")[0], 404)
        self.assertEqual(s.request("POST", "/api/v1/admin/meta/version", b"x",
                                   {"Content-Type": "multipart/form-data"})[0], 415)
        self.assertEqual(s.request("GET", "/storage/")[0], 401)
        self.assertEqual(s.request("GET", "/storage/x/config",
                                   headers={"Authorization": "Basic !!!"})[0], 401)
        self.assertEqual(s.request("GET", "/healthz")[0], 200)
        self.assertEqual(s.stop(), 0)

    def test_login_protection_locks_the_attacker_not_other_users(self):
        cfg = server_config()
        cfg["TrustXForwardedFor"] = True
        cfg["LoginProtection"] = {"Enabled": True, "FailureThreshold": 5, "CooldownSeconds": 600}
        cfg["AdminUsers"] = [
            {"Username": "alice", "PasswordFormat": 0, "Password": "alice pw"},
            {"Username": "bob", "PasswordFormat": 0, "Password": "bob pw"}]
        s = self.start(config=cfg)
        # The plaintext passwords were hashed and the file rewritten at start.
        self.assertNotIn("alice pw", open(os.path.join(self.data, "halleyd.cfg")).read())
        attacker = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
        t0 = time.monotonic()
        statuses = []
        for i in range(1000):
            status, _ = s.api("admin/meta/version", auth=("alice", "guess %d" % i),
                              headers=attacker)
            statuses.append(status)
        self.assertEqual(statuses[:5], [401] * 5)
        self.assertEqual(set(statuses[5:]), {403})
        self.assertLess(time.monotonic() - t0, 120)
        # alice is locked even with her real password, from anywhere, until the cooldown ends;
        status, reply = s.api("admin/meta/version", auth=("alice", "alice pw"),
                              headers={"X-Forwarded-For": "198.51.100.1"})
        self.assertEqual(status, 403, reply)
        self.assertIn("Too many failed logins", reply["Message"])
        # bob, from another address, is not affected.
        status, reply = s.api("admin/meta/version", auth=("bob", "bob pw"),
                              headers={"X-Forwarded-For": "198.51.100.1"})
        self.assertEqual(status, 200, reply)
        # The failures were logged with the forwarded address, never with the password tried.
        log = s.log()
        self.assertIn("203.0.113.7", log)
        self.assertNotIn("guess 1", log)

    def test_kill_9_during_uploads_leaves_databases_sound_and_no_partial_object(self):
        runs = harness.OPTIONS.runs or 5
        s = self.start()
        admin = setup_admin(s)
        bucket, key = register_bucket(s, admin)
        port = s.address.rsplit(":", 1)[1]
        self.restic_ok(s, bucket, key, "init")
        src = self.make_source(files=60, max_size=2_000_000)
        for run in range(runs):
            # Fresh content each run so that every backup uploads.
            harness.write_file(os.path.join(src, b"run%03d" % run),
                               harness.pseudo_random_bytes(self.rng, 3_000_000))
            env = harness.base_env()
            env["RESTIC_REPOSITORY"] = s.rest_url(bucket, key)
            env["RESTIC_CACHE_DIR"] = os.fsdecode(self.wd.sub("restic-cache"))
            restic_log = open(self.wd.sub("restic-%d.log" % run), "w+b")
            p = subprocess.Popen(["restic", "backup", src], env=env, stdout=restic_log,
                                 stderr=restic_log)
            self.addCleanup(p.kill)
            # restic gives up at once when the server is gone before it has opened the vault
            # (run 10 of a loaded CI run: "connection refused" on config); once it has, it
            # retries. So the kill comes after its first request for the config.
            deadline = time.monotonic() + 60
            while (p.poll() is None and time.monotonic() < deadline and
                   not any(e.get("event") == "request" and e.get("path", "").endswith("/config")
                           for e in s.log_entries())):
                time.sleep(0.02)
            # Registering buckets writes the database while uploads run.
            for _ in range(self.rng.randrange(0, 3)):
                s.api("admin/storage/register-bucket", auth=admin)
            time.sleep(self.rng.uniform(0.05, 0.8))
            s.kill()
            for db in glob.glob(os.path.join(self.data, "*.db3")):
                with sqlite3.connect(db) as conn:
                    self.assertEqual(conn.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            # No visible object is partial: every name matches its content.
            for path in glob.glob(os.path.join(self.data, "storage", bucket, "*", "**", "*"),
                                  recursive=True):
                name = os.path.basename(path)
                if os.path.isfile(path) and not name.startswith("."):
                    with open(path, "rb") as f:
                        self.assertEqual(hashlib.sha256(f.read()).hexdigest(), name, path)
            # Back on the same port, the client's retries go through and the backup finishes.
            s = self.start(listen="127.0.0.1:" + port)
            if p.wait(300) != 0:
                restic_log.seek(0)
                self.fail(f"run {run}: restic backup did not finish:\n" +
                          restic_log.read().decode("utf-8", "replace")[-3000:])
            restic_log.close()
        self.restic_ok(s, bucket, key, "check", "--read-data")
        snaps = json.loads(self.restic_ok(s, bucket, key, "snapshots", "--json").stdout)
        self.assertEqual(len(snaps), runs)
        # Uploads a crash cut short leave temporary files; once they are a day old the server
        # removes them (at start, then daily). Younger ones may belong to uploads in flight.
        data_dir = os.path.join(self.data, "storage", bucket, "data")
        stale = os.path.join(data_dir, ".tmp-00000000000000aa")
        fresh = os.path.join(data_dir, ".tmp-00000000000000bb")
        for p in (stale, fresh):
            harness.write_file(p, b"partial upload")
        two_days_ago = time.time() - 2 * 86400
        os.utime(stale, (two_days_ago, two_days_ago))
        self.assertEqual(s.stop(), 0)
        s = self.start()
        self.assertFalse(os.path.exists(stale))
        self.assertTrue(os.path.exists(fresh))
        self.assertTrue(any(e.get("event") == "temporaries_removed" for e in s.log_entries()),
                        s.log())
        self.assertEqual(s.stop(), 0)


def login_secret(username, password):
    """The zero-knowledge ratchet of DESIGN §4, computed independently: (L as sent, L, R)."""
    d = hashlib.pbkdf2_hmac("sha512", password.encode(), b"halley/zkr/v1/" + username.encode(),
                            100000, 48)
    return "zkr1:" + d[:24].hex(), d[:24], d[24:]


def bcrypt_sha512(secret):
    """bcrypt(base64(SHA-512(secret))) with the first 72 characters, as a device computes it."""
    import crypt
    text = base64.b64encode(hashlib.sha512(secret).digest()).decode()[:72]
    return crypt.crypt(text, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10))


class AuthenticationRoleTest(ServerTestBase):
    def test_users_profiles_devices_vaults_and_jobs_with_zero_knowledge(self):
        s = self.start()
        admin = setup_admin(s)
        user, password = "alice@example.com", "correct horse battery staple"
        status, reply = s.api("admin/add-user", auth=admin, TargetUser=user,
                              TargetPassword=password)
        self.assertEqual(status, 200, reply)
        status, reply = s.api("admin/add-user", auth=admin, TargetUser=user, TargetPassword="x")
        self.assertEqual(status, 403, reply)  # exists
        status, reply = s.api("admin/add-user", auth=admin, TargetUser="bad/name",
                              TargetPassword="x")
        self.assertEqual(status, 400, reply)
        self.assertEqual(s.api("admin/list-users", auth=admin)[1], [user])

        # A device logs in with L; a web login with the typed password works too.
        sent_l, l, r = login_secret(user, password)
        for secret in (sent_l, password):
            status, reply = s.api("user/web/session/start", auth=(user, secret))
            self.assertEqual(status, 200, reply)
            self.assertEqual(reply["SessionType"], "user")
        status, _ = s.api("user/web/session/start", auth=(user, login_secret(user, "wrong")[0]))
        self.assertEqual(status, 401)
        # An admin session is not a user session and vice versa.
        session = {"Username": user, "AuthType": "SessionKey", "SessionKey": reply["SessionKey"]}
        self.assertEqual(s.api("user/web/get-user-profile-and-hash", **session)[0], 200)
        self.assertEqual(s.api("admin/list-users", **session)[0], 401)

        # Device registration, then the profile round-trips unknown fields with its hash.
        dev = {"Username": user, "AuthType": "Password", "Password": sent_l}
        status, reply = s.api("user/web/register-device", DeviceID="dev-1", FriendlyName="laptop",
                              PlatformVersion={"os": "linux", "arch": "amd64"}, **dev)
        self.assertEqual(status, 200, reply)
        status, got = s.api("user/web/get-user-profile-and-hash", **dev)
        self.assertEqual(got["Profile"]["Devices"]["dev-1"]["FriendlyName"], "laptop")
        profile, old_hash = got["Profile"], got["ProfileHash"]
        profile["FutureField"] = {"kept": [1, 2, 3]}
        profile["IsSuspended"] = True          # not the user's to change
        profile["Devices"]["dev-2"] = {"FriendlyName": "unregistered"}  # register-device's
        profile["PasswordHash"] = "forged"     # nobody's to change this way
        status, reply = s.api("user/web/set-user-profile-hash", ProfileData=profile,
                              RequireHash=old_hash, **dev)
        self.assertEqual(status, 200, reply)
        status, reply = s.api("user/web/set-user-profile-hash", ProfileData=profile,
                              RequireHash=old_hash, **dev)
        self.assertEqual(status, 409, reply)  # stale hash
        status, got = s.api("admin/get-user-profile-and-hash", auth=admin, TargetUser=user)
        self.assertEqual(got["Profile"]["FutureField"], {"kept": [1, 2, 3]})
        self.assertFalse(got["Profile"]["IsSuspended"])
        self.assertEqual(list(got["Profile"]["Devices"]), ["dev-1"])
        self.assertTrue(got["Profile"]["PasswordHash"].startswith("$2b$"))

        # The device requests a vault keeping its bucket key: only a hash goes to the server.
        psk = os.urandom(16).hex()
        status, reply = s.api("user/web/request-storage-vault", SetKeyHashFormat=2,
                              SetKeyHashValue=bcrypt_sha512(psk.encode()), **dev)
        self.assertEqual(status, 200, reply)
        vault_id = reply["DestinationID"]
        status, got = s.api("user/web/get-user-profile-and-hash", **dev)
        vault = got["Profile"]["Destinations"][vault_id]
        self.assertEqual(vault["DestinationType"], 1003)
        self.assertEqual(vault["CometBucketKey"], "")
        self.assertEqual(vault["CometServer"], f"http://{s.address}/")
        src = self.make_source(files=10)
        self.restic_ok(s, vault["CometBucket"], psk, "init")
        self.roundtrip(s, vault["CometBucket"], psk, src)
        status, providers = s.api("admin/request-storage-vault-providers", auth=admin)
        self.assertIn("default-self", providers)

        # Jobs: start, progress, log, finish; the admin sees 5000/4001 with the counts.
        status, reply = s.api("user/web/job/start", Job={"Classification": 4001, "DeviceID": "dev-1",
                                                        "DestinationGUID": vault_id}, **dev)
        self.assertEqual(status, 200, reply)
        job = reply["JobID"]
        for counter in (1, 3, 2):  # an out-of-order report is ignored
            status, _ = s.api("user/web/job/progress", JobID=job,
                              Progress={"Counter": counter, "BytesDone": counter * 100}, **dev)
            self.assertEqual(status, 200)
        status, reply = s.api("user/web/job/log", JobID=job, Entries=[
            {"Severity": "I", "Message": "Starting backup"},
            {"Severity": "W", "Message": "could not read /etc/shadow"},
            {"Severity": "X", "Message": "bad"}], **dev)
        self.assertEqual(status, 400, reply)
        status, reply = s.api("user/web/job/log", JobID=job, Entries=[
            {"Severity": "I", "Message": "Starting backup"},
            {"Severity": "W", "Message": "could not read /etc/shadow"}], **dev)
        self.assertEqual(status, 200, reply)
        status, reply = s.api("user/web/job/finish", JobID=job, Status=5000,
                              Job={"TotalFiles": 10, "TotalSize": 12345, "UploadSize": 999,
                                   "SnapshotID": "abc"}, **dev)
        self.assertEqual(status, 200, reply)
        self.assertEqual(s.api("user/web/job/finish", JobID=job, Status=5000, **dev)[0], 400)
        status, jobs = s.api("admin/get-jobs-for-user", auth=admin, TargetUser=user)
        self.assertEqual(len(jobs), 1)
        j = jobs[0]
        self.assertEqual((j["Status"], j["Classification"], j["TotalFiles"], j["TotalSize"]),
                         (5000, 4001, 10, 12345))
        self.assertEqual(j["Progress"]["Counter"], 3)
        self.assertEqual(j["Progress"]["BytesDone"], 300)
        self.assertGreater(j["EndTime"], 0)
        status, entries = s.api("admin/get-job-log-entries", auth=admin, JobID=job, MinSeverity="W")
        self.assertEqual([e["Message"] for e in entries], ["could not read /etc/shadow"])
        status, _, text = s.request("POST", "/api/v1/admin/get-job-log", urllib_form(
            admin, JobID=job), {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertIn(b" W could not read /etc/shadow", text)
        self.assertEqual(len(s.api("admin/get-jobs-recent", auth=admin)[1]), 1)
        self.assertEqual(len(s.api("admin/get-jobs-for-date-range", auth=admin,
                                   Start=j["EndTime"] + 100, End=j["StartTime"] - 100)[1]), 1)
        self.assertEqual(s.api("admin/get-jobs-for-date-range", auth=admin, Start=0, End=0)[1], [])
        # Another user cannot touch this job.
        s.api("admin/add-user", auth=admin, TargetUser="mallory", TargetPassword="m")
        status, _ = s.api("user/web/job/progress", JobID=job, Progress={"Counter": 9},
                          auth=("mallory", "m"))
        self.assertEqual(status, 404)

        # No recovery code: the server cannot reset the password, and says why.
        status, reply = s.api("admin/reset-user-password", auth=admin, TargetUser=user,
                              NewPassword="new")
        self.assertEqual(status, 403, reply)
        self.assertIn("recovery", reply["Message"])

        # Zero knowledge: nothing under the data directory holds the password, L, R or the PSK
        # in raw, hex or base64 form (bucket contents are the vault's own encrypted files).
        secrets = [password.encode(), psk.encode()]
        for raw in (l, r):
            secrets += [raw, raw.hex().encode(), base64.b64encode(raw), base64.b64encode(raw)[:30]]
        for root, _, files in os.walk(self.data):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    blob = f.read()
                for secret in secrets:
                    self.assertNotIn(secret, blob, path)

        # Revoking the device and deleting the user.
        status, reply = s.api("admin/revoke-device", auth=admin, TargetUser=user, TargetDevice="dev-1")
        self.assertEqual(status, 200, reply)
        self.assertEqual(s.api("admin/get-user-profile", auth=admin, TargetUser=user)[1]["Devices"], {})
        self.assertEqual(s.api("admin/delete-user", auth=admin, TargetUser=user)[0], 200)
        self.assertEqual(s.api("admin/get-jobs-for-user", auth=admin, TargetUser=user)[1], [])
        self.assertEqual(s.api("user/web/get-user-profile-and-hash", **session)[0], 401)

    def test_admin_profile_edits_and_suspension(self):
        s = self.start()
        admin = setup_admin(s)
        s.api("admin/add-user", auth=admin, TargetUser="bob", TargetPassword="bob pw",
              StoreRecoveryCode=1)
        status, got = s.api("admin/get-user-profile-and-hash", auth=admin, TargetUser="bob")
        self.assertEqual(len(got["Profile"]["PasswordRecovery"]), 48)  # opted in: R kept
        profile = got["Profile"]
        profile["IsSuspended"] = True
        status, reply = s.api("admin/set-user-profile-hash", auth=admin, TargetUser="bob",
                              ProfileData=profile, RequireHash=got["ProfileHash"])
        self.assertEqual(status, 200, reply)
        status, reply = s.api("user/web/session/start", auth=("bob", "bob pw"))
        self.assertEqual(status, 403, reply)
        self.assertIn("suspended", reply["Message"])
        status, reply = s.api("admin/add-user-from-profile", auth=admin, TargetUser="carol",
                              ProfileData={"AccountName": "Carol", "Unknown": 1})
        self.assertEqual(status, 200, reply)
        carol = s.api("admin/get-user-profile", auth=admin, TargetUser="carol")[1]
        self.assertEqual((carol["AccountName"], carol["Unknown"], carol["Username"]),
                         ("Carol", 1, "carol"))
        self.assertEqual(s.api("admin/set-user-profile", auth=admin, TargetUser="carol",
                               ProfileData="[1]")[0], 400)
        status, reply = s.api("admin/set-user-profile", auth=admin, TargetUser="carol",
                              ProfileData={"IsSuspended": "yes"})
        self.assertEqual(status, 400, reply)
        self.assertIn("IsSuspended must be a boolean", reply["Message"])
        self.assertEqual(s.api("admin/get-user-profile", auth=admin, TargetUser="nobody")[0], 404)


def urllib_form(auth, **fields):
    import urllib.parse
    return urllib.parse.urlencode(dict(Username=auth[0], AuthType="Password", Password=auth[1],
                                       **fields)).encode()




if __name__ == "__main__":
    harness.main()
