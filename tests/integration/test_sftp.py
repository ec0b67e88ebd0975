#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""backup-tool on `sftp:` vaults, against OpenSSH's sshd on loopback (sshservers.py): the
storage type most people have (any Linux box with ssh), reached with the ssh setup they
already have.

  a) Backup, check --read-data and restore in both location forms, sftp:USER@HOST:PORT:PATH
     and restic's sftp://USER@HOST:PORT//PATH, IPv6 hosts in brackets; the vault's files
     are where the path says, with no temporary (".tmp-") file left behind.
  b) Debian's restic 0.14 reads and writes the same vault through ssh (-o sftp.command), and
     backup-tool reads a vault restic made over SFTP (the layout is restic's).
  c) The manual's migration between vault types: a local vault copied to the SFTP server with
     rclone opens, checks clean and restores the same there, and copied back still works.
  d) ~/.ssh as ssh users know it: $HOME/.ssh/config (Host aliases, HostName, Port, User,
     IdentityFile, UserKnownHostsFile), known_hosts (hashed lines too), default identities;
     and the backend options -o sftp.identity / sftp.known-hosts / sftp.config /
     sftp.connections.
  e) Host keys: an unknown key is refused (exit 1) saying how to add it, and the advice
     works; a changed key is refused (exit 1) saying it changed; no login is attempted.
  f) Credentials: a key the server does not accept, no key at all, a wrong password: exit 13.
     ssh-agent logins; password logins (BACKUP_TOOL_SFTP_PASSWORD, a temporary account, root
     only) with paths relative to the account's home; the password is never printed.
  g) A connection dropped in the middle of a backup (sshd's session processes killed, twice)
     is reconnected: the backup completes and checks clean. A server gone for good exits 14
     once the retry bound passes.

The tests run as root (sshd's privilege separation and the temporary account need it); they
are skipped otherwise. scripts/install-deps installs OpenSSH's server and client.

The BlobStore conformance suite and the store's own tests (tests/sftp_blob_store_test.cc)
run against the same sshd.

  python3 tests/integration/test_sftp.py --backup-tool PATH --sftp-test PATH
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from sshservers import ALIAS, HOST, HOST6, Sshd, SshAgent, TempUser, make_key  # noqa: E402

# Variables of the caller's ssh setup that must not reach a test: an agent would offer keys
# the test did not choose.
SSH_ENV = ("SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY",
           "BACKUP_TOOL_SFTP_PASSWORD")


def restored_path(target, src):
    """Where a restore of the whole snapshot puts the absolute path `src` beneath `target`."""
    return os.path.join(target, src.lstrip(b"/"))


def temp_files(root):
    """Paths beneath `root` whose names start with ".tmp-" (the backend's unfinished writes)."""
    out = []
    for dirpath, _dirs, names in os.walk(root):
        out.extend(os.path.join(dirpath, n) for n in names if n.startswith(b".tmp-"))
    return out


def object_count(root):
    """Files beneath `root` (finished or not)."""
    return sum(len(names) for _, _, names in os.walk(root))


def fingerprint(pub_path):
    """The SHA256:... fingerprint of a public key file, as sshd logs it."""
    r = subprocess.run(["ssh-keygen", "-l", "-f", pub_path], capture_output=True, text=True,
                       check=True)
    return r.stdout.split()[1]


class SftpVault(harness.Vault):
    """A vault on a test sshd. backup-tool reaches it at `location` with HOME=`home` (so its
    ~/.ssh is the test's, not the caller's); restic at the URL form of the same directory
    through ssh (restic 0.14's sftp backend runs `-o sftp.command`). `local` is where the
    vault's files are on this machine (the server shares its file system)."""

    def __init__(self, sshd, location, local, workdir, home, user="root", remote_path=None):
        super().__init__(location, workdir)
        self.sshd = sshd
        self.location = location
        self.local = os.fsencode(local)
        for k in SSH_ENV:
            self.env.pop(k, None)
        self.env["HOME"] = home
        self.env["RESTIC_REPOSITORY"] = sshd.url(remote_path or os.fsdecode(self.local),
                                                 user=user)
        self.restic_command = sshd.ssh_command(user=user)

    def restic(self, *args, **kw):
        return super().restic("-o", "sftp.command=" + self.restic_command, *args, **kw)

    def files(self, kind):
        return harness.Vault(self.local, self.workdir).files(kind)


class SftpTestCase(harness.TestCase):
    """One sshd for the class (key logins as root); tests that need another start their own."""

    sshd = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("sshd's privilege separation and logins as other users "
                                    "need root (the tests run as root in CI)")
        ok = Sshd.available()
        if not ok:
            raise RuntimeError("OpenSSH is needed (scripts/install-deps installs it): "
                               + ok.reason)
        if not harness.find_restic():
            raise RuntimeError("restic is needed (scripts/install-deps installs it)")
        cls.root = harness.Workdir("sshd")
        try:
            cls.sshd = Sshd(os.path.join(os.fsdecode(cls.root.path), "sshd"),
                            ipv6=Sshd.ipv6_available()).start()
        except BaseException:
            cls.root.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.sshd:
            cls.sshd.stop()
        cls.root.close()

    def setUp(self):
        super().setUp()
        self.rng, _ = harness.seeded_rng(self.id())

    # --- helpers
    def path(self, *parts):
        return os.fsdecode(self.wd.sub(*parts))

    def home(self, name="home", sshd=None, **kw):
        """A $HOME for backup-tool (see Sshd.make_home; default: key, known_hosts, alias)."""
        return (sshd or self.sshd).make_home(self.path(name), **kw)

    def vault(self, location, local, home=None, sshd=None, **kw):
        sshd = sshd or self.sshd
        return SftpVault(sshd, location, local, self.wd.path, home or self.home(sshd=sshd),
                         **kw)

    def build_tree(self, name):
        return harness.build_restic_tree(self.wd.sub(name), self.rng)

    def small_tree(self, name, files=6):
        src = self.wd.mkdir(name)
        for i in range(files):
            harness.write_file(os.path.join(src, b"f%d" % i), harness.pseudo_random_bytes(
                self.rng, self.rng.randrange(1, 600_000)))
        return src

    def assertNoTempFiles(self, v):
        left = temp_files(v.local)
        self.assertEqual(left, [], "temporary files left in the vault")

    def assertRefused(self, r, code, *words):
        """Exit `code`, and every word in stderr (case-insensitive)."""
        self.assertExit(r, code)
        for w in words:
            self.assertIn(w.lower(), r.stderr.lower(), r.describe())

    def restore_and_compare(self, v, src, name, ref="latest"):
        target = self.wd.sub(name)
        v.restore(ref, target, expect=0)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)


class SftpVaults(SftpTestCase):
    # ------------------------------------------------------------------------------------
    def test_conformance_suite(self):
        """The BlobStore contract, and the store's own tests, in tests/sftp_blob_store_test."""
        root = self.path("conformance")
        os.makedirs(root)
        env = dict(os.environ, HOME=self.home(),
                   HALLEY_SFTP_LOCATION=self.sshd.location(root)[len("sftp:"):],
                   HALLEY_SFTP_ROOT=root)
        for name in SSH_ENV:
            env.pop(name, None)
        r = harness.run([harness.OPTIONS.sftp_test], env=env, timeout=900)
        if r.rc != 0:
            self.fail(f"the SFTP store's tests failed:\n{r.describe()}")
        self.assertIn("[  PASSED  ]", r.stdout)
        self.assertNotIn("[  FAILED  ]", r.stdout)

    def test_backup_check_restore_in_both_location_forms(self):
        sshd = self.sshd
        forms = [("colon", sshd.location), ("url", sshd.url)]
        if sshd.ipv6:
            forms += [("colon-ipv6", lambda p: sshd.location(p, host=HOST6)),
                      ("url-ipv6", lambda p: sshd.url(p, host=HOST6))]
        else:
            harness.log("no ::1 here: IPv6 locations not tested")
        for form, make_location in forms:
            with self.subTest(form=form):
                local = self.wd.sub(f"vault-{form}")
                location = make_location(os.fsdecode(local))
                if form == "url":
                    # restic's form: the path after the host's "/" is relative, "//" absolute.
                    self.assertIn(f":{sshd.port}//", location)
                v = self.vault(location, local)
                v.init()
                # The vault is where the path says: the server's file system at that path.
                self.assertTrue(os.path.isfile(os.path.join(local, b"config")), location)
                src = self.build_tree(f"src-{form}")
                _, first = v.backup(src)
                harness.write_file(os.path.join(src, b"added-later"), b"later\n")
                _, second = v.backup(src)
                self.assertEqual(second.get("files_new"), 1, second)
                self.assertTrue(v.files("data"))
                self.assertNoTempFiles(v)
                v.bt("check", "--read-data", expect=0)
                self.restore_and_compare(v, src, f"restore-{form}")
                # Opened as a local directory, the same vault: the layout is the same.
                local_ids = [s["id"] for s in harness.Vault(local, self.wd.path).snapshots()]
                self.assertEqual(sorted(local_ids),
                                 sorted([first["snapshot_id"], second["snapshot_id"]]))
                self.assertNoTempFiles(v)

    def test_restic_reads_and_writes_the_same_vault(self):
        """restic 0.14's sftp backend (ssh + sftp-server protocol) and ours see the same
        files: each reads, checks and adds to what the other wrote."""
        local = self.wd.sub("vault")
        v = self.vault(self.sshd.location(os.fsdecode(local)), local)
        v.init()
        src = self.build_tree("src")
        _, first = v.backup(src)
        self.restic_ok(v, "check", "--read-data")
        listed = json.loads(self.restic_ok(v, "snapshots", "--json").stdout)
        self.assertEqual([j["id"] for j in listed], [first["snapshot_id"]])
        # (not restic_ok: the tree's names hold "invalid", which reads as an error line)
        ls = v.restic("ls", "latest", expect=0).stdout
        self.assertIn(os.fsdecode(os.path.join(src, b"random-5MiB")), ls)
        target = self.wd.sub("restic-restore")
        self.restic_ok(v, "restore", "latest", "--target", target)
        self.assertTreesEqual(src, restored_path(target, src), compare_root=True)

        # restic adds a snapshot over SFTP; backup-tool reads, checks and restores it.
        harness.write_file(os.path.join(src, b"by-restic"), b"restic was here\n")
        self.restic_ok(v, "backup", os.fsdecode(src))
        snaps = v.snapshots()
        self.assertEqual(len(snaps), 2)
        restic_snap = [s["id"] for s in snaps if s["id"] != first["snapshot_id"]][0]
        v.bt("check", "--read-data", expect=0)
        self.restore_and_compare(v, src, "restore-restic-snapshot", ref=restic_snap)
        self.assertNoTempFiles(v)

        # A vault restic made over SFTP (restic's own data/00..ff directories): backup-tool
        # opens it in the URL form, checks it, restores it and backs up into it.
        local2 = self.wd.sub("restic-made")
        rv = self.vault(self.sshd.url(os.fsdecode(local2)), local2)
        self.restic_ok(rv, "init")
        src2 = self.small_tree("src2")
        self.restic_ok(rv, "backup", os.fsdecode(src2))
        self.assertEqual(len(rv.snapshots()), 1)
        rv.bt("check", "--read-data", expect=0)
        self.restore_and_compare(rv, src2, "restore-restic-made")
        harness.write_file(os.path.join(src2, b"by-backup-tool"), b"ours\n")
        rv.backup(src2)
        self.restic_ok(rv, "check", "--read-data")
        self.assertNoTempFiles(rv)

    def test_a_local_vault_copied_over_sftp_with_rclone_restores_the_same(self):
        """The manual's migration between Storage Vault types: every type has the same layout,
        so copying the files moves a vault. rclone copies a local vault to the SFTP server;
        there it opens with the same password, checks clean, restores the same tree and takes
        new backups; copied back to a local disk, it is still a vault."""
        local = self.new_vault("local")
        src = self.build_tree("migrate-src")
        _, summary = local.backup(src)
        moved = self.wd.sub("moved")
        env = dict(os.environ, RCLONE_CONFIG="/dev/null", RCLONE_CONFIG_SSHD_TYPE="sftp",
                   RCLONE_CONFIG_SSHD_HOST=HOST, RCLONE_CONFIG_SSHD_PORT=str(self.sshd.port),
                   RCLONE_CONFIG_SSHD_USER="root",
                   RCLONE_CONFIG_SSHD_KEY_FILE=self.sshd.client_key,
                   RCLONE_CONFIG_SSHD_KNOWN_HOSTS_FILE=self.sshd.known_hosts,
                   # No remote shell commands (hash sums): a login shell costs seconds per
                   # file on some machines. check --read-data verifies the content instead.
                   RCLONE_CONFIG_SSHD_SHELL_TYPE="none")
        for k in SSH_ENV:
            env.pop(k, None)
        r = harness.run(["rclone", "copy", os.fsdecode(local.path),
                         "sshd:" + os.fsdecode(moved)], env=env)
        self.assertEqual(r.rc, 0, r.describe())
        v = self.vault(self.sshd.location(os.fsdecode(moved)), moved)
        self.assertEqual([s["id"] for s in v.snapshots()], [summary["snapshot_id"]])
        v.bt("check", "--read-data", expect=0)
        self.restore_and_compare(v, src, "migrate-restore")
        harness.write_file(os.path.join(src, b"after-the-move"), b"new\n")
        _, second = v.backup(src)
        self.assertEqual(second.get("files_new"), 1, second)
        self.assertNoTempFiles(v)
        back = self.wd.sub("copied-back")
        r = harness.run(["rclone", "copy", "sshd:" + os.fsdecode(moved), os.fsdecode(back)],
                        env=env)
        self.assertEqual(r.rc, 0, r.describe())
        returned = harness.Vault(back, self.wd.path)
        self.assertEqual(len(returned.snapshots()), 2)
        returned.bt("check", "--read-data", expect=0)

    # ------------------------------------------------------------------------------------
    def test_ssh_config_known_hosts_and_backend_options(self):
        """What ssh users have set up already works: ~/.ssh/config's Host aliases with
        HostName, Port, User, IdentityFile and UserKnownHostsFile; hashed known_hosts lines;
        and the -o sftp.* options replace those files when there is no ~/.ssh."""
        sshd = self.sshd
        src = self.small_tree("src")
        local = self.wd.sub("vault")
        path = os.fsdecode(local)
        # An alias whose key and known_hosts live outside ~/.ssh (so only the config can
        # have named them).
        home = self.home("home-alias", identity=False, known_hosts=False, config_text="\n".join([
            "Host halley-vault", f"    HostName {HOST}", f"    Port {sshd.port}",
            "    User root", f"    IdentityFile {sshd.client_key}",
            f"    UserKnownHostsFile {sshd.known_hosts}", ""]))
        v = self.vault(f"sftp:halley-vault:{path}", local, home=home)
        v.init()
        _, summary = v.backup(src)
        v.bt("check", "--read-data", expect=0)
        self.assertNoTempFiles(v)
        # The URL form goes through the alias too.
        u = self.vault(f"sftp://halley-vault/{path}", local, home=home)
        self.assertEqual([s["id"] for s in u.snapshots()], [summary["snapshot_id"]])

        # Hashed known_hosts lines (Debian's ssh writes them: HashKnownHosts yes) and the
        # default identity ~/.ssh/id_ed25519, with the port in the location.
        home = self.home("home-hashed", known_hosts_lines=[])
        kh = os.path.join(home, ".ssh", "known_hosts")
        with open(kh, "w") as f:
            f.write("\n".join(sshd.known_hosts_lines()) + "\n")
        r = subprocess.run(["ssh-keygen", "-H", "-f", kh], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(kh) as f:
            hashed = f.read()
        self.assertIn("|1|", hashed)
        self.assertNotIn(HOST, hashed)
        v = self.vault(sshd.location(path), local, home=home)
        self.assertEqual(len(v.snapshots()), 1)

        # No ~/.ssh at all: the options name the key and the known_hosts file.
        empty = self.path("home-empty")
        os.makedirs(empty)
        v = self.vault(sshd.location(path), local, home=empty)
        opts = ["-o", f"sftp.identity={sshd.client_key}",
                "-o", f"sftp.known-hosts={sshd.known_hosts}"]
        r = v.bt(*opts, "--json", "snapshots", expect=0)
        self.assertEqual([s["id"] for s in json.loads(r.stdout)], [summary["snapshot_id"]])
        harness.write_file(os.path.join(src, b"more"), b"more\n")
        v.bt(*opts, "--json", "backup", src, expect=0)
        # Without them the host is unknown.
        self.assertRefused(v.bt("snapshots"), 1, "unknown", HOST)

        # -o sftp.config: a client config file instead of ~/.ssh/config (the fixture's, whose
        # halley-sshd alias names the key and known_hosts); ~/.ssh/config, which would send
        # the alias to a closed port, is not read.
        home = self.home("home-bad-config", identity=False, known_hosts=False,
                         config_text=f"Host {ALIAS}\n    HostName {HOST}\n    Port 1\n")
        v = self.vault(f"sftp:{ALIAS}:{path}", local, home=home)
        r = v.bt("-o", f"sftp.config={sshd.ssh_config}", "--json", "snapshots", expect=0)
        self.assertEqual(len(json.loads(r.stdout)), 2)

        # -o sftp.connections: several connections at once write and read the same vault.
        v = self.vault(sshd.location(path), local)
        for i in range(20):
            harness.write_file(os.path.join(src, b"parallel-%d" % i),
                               harness.pseudo_random_bytes(self.rng, 700_000))
        before = len(sshd.accepted())
        v.bt("-o", "sftp.connections=4", "--json", "backup", src, expect=0)
        v.bt("-o", "sftp.connections=4", "check", "--read-data", expect=0)
        harness.log(f"sftp.connections=4: {len(sshd.accepted()) - before} logins for a backup "
                    "and a check")
        self.restore_and_compare(v, src, "restore-parallel")
        self.assertNoTempFiles(v)
        # An option the backend does not know is named, not ignored.
        r = v.bt("-o", "sftp.no-such-option=1", "snapshots")
        self.assertRefused(r, 1, "sftp.no-such-option")

    def test_unknown_and_changed_host_keys_are_refused(self):
        """Trust on first use is the user's decision, not ours: an unknown host key is refused
        with the command that adds it, a changed one is refused outright. Either way no login
        is attempted and nothing is written."""
        sshd = self.sshd
        made = self.wd.sub("existing")
        self.vault(sshd.location(os.fsdecode(made)), made).init()
        local = self.wd.sub("vault")
        path = os.fsdecode(local)
        src = self.small_tree("src")
        logins = len(sshd.accepted())

        for name, kw in [("empty known_hosts", dict(known_hosts_lines=[])),
                         ("no known_hosts", dict(known_hosts=False))]:
            with self.subTest(case=name):
                home = self.home(f"home-{name.replace(' ', '-')}", **kw)
                v = self.vault(sshd.location(path), local, home=home)
                r = v.bt("init")
                self.assertRefused(r, 1, "unknown", HOST, "ssh-keyscan")
                self.assertFalse(os.path.exists(local))
                e = self.vault(sshd.location(os.fsdecode(made)), made, home=home)
                self.assertRefused(e.bt("snapshots"), 1, "unknown", HOST)
                self.assertRefused(e.bt("--json", "backup", src), 1)
        self.assertEqual(len(sshd.accepted()), logins, "a login to an unverified server")

        # The advice works: the ssh-keyscan command the message gives, its output appended
        # to ~/.ssh/known_hosts.
        home = self.home("home-keyscan", known_hosts_lines=[])
        v = self.vault(sshd.location(path), local, home=home)
        r = v.bt("snapshots")
        self.assertRefused(r, 1, "unknown")
        advice = re.search(r"ssh-keyscan[^>\n]*", r.stderr)
        self.assertTrue(advice, r.describe())
        r = harness.run(shlex.split(advice.group(0)))
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn(f"[{HOST}]:{sshd.port} ssh-ed25519 ", r.stdout)
        with open(os.path.join(home, ".ssh", "known_hosts"), "a") as f:
            f.write(r.stdout)
        v.init()

        # A changed key: the known_hosts line has another ed25519 key for [127.0.0.1]:PORT.
        other = make_key(self.path("other-host-key"), "not-the-server")
        home = self.home("home-changed", known_hosts_lines=sshd.known_hosts_lines(other))
        logins = len(sshd.accepted())
        for loc, d in [(sshd.location(path), local), (sshd.url(path), local)]:
            v = self.vault(loc, d, home=home)
            self.assertRefused(v.bt("snapshots"), 1, "changed", HOST)
            self.assertRefused(v.bt("--json", "backup", src), 1, "changed")
        fresh = self.wd.sub("fresh")
        r = self.vault(sshd.location(os.fsdecode(fresh)), fresh, home=home).bt("init")
        self.assertRefused(r, 1, "changed")
        self.assertFalse(os.path.exists(fresh))
        # The same refusal when the file comes from -o sftp.known-hosts, and the right file
        # given the same way wins over a wrong ~/.ssh/known_hosts.
        changed_file = os.path.join(home, ".ssh", "known_hosts")
        v = self.vault(sshd.location(path), local, home=self.home("home-plain"))
        self.assertRefused(v.bt("-o", f"sftp.known-hosts={changed_file}", "snapshots"), 1,
                           "changed")
        self.assertEqual(len(sshd.accepted()), logins, "a login to a server whose key changed")
        v = self.vault(sshd.location(path), local, home=home)
        v.bt("-o", f"sftp.known-hosts={sshd.known_hosts}", "snapshots", expect=0)

    def test_refused_credentials_exit_13(self):
        sshd = self.sshd
        local = self.wd.sub("vault")
        path = os.fsdecode(local)
        self.vault(sshd.location(path), local).init()
        src = self.small_tree("src")
        stranger = self.path("stranger")
        make_key(stranger, "not-authorized")
        cases = [("stranger", "a key the server does not know", dict(key=stranger)),
                 ("nokey", "no key and no agent", dict(identity=False))]
        for tag, name, kw in cases:
            with self.subTest(case=name):
                home = self.home(f"home-{tag}", **kw)
                v = self.vault(sshd.location(path), local, home=home)
                self.assertExit(v.bt("snapshots"), 13)
                self.assertExit(v.bt("--json", "backup", src), 13)
                self.assertExit(v.bt("init"), 13)
        # -o sftp.identity with the unknown key: refused although ~/.ssh has none.
        v = self.vault(sshd.location(path), local, home=self.home("home-opt", identity=False))
        self.assertExit(v.bt("-o", f"sftp.identity={stranger}", "snapshots"), 13)

    def test_ssh_agent_logins(self):
        """The key lives only in ssh-agent: no identity file anywhere, SSH_AUTH_SOCK set.
        sshd's log names the key that logged in."""
        sshd = self.sshd
        agent = SshAgent(self.path("agent")).start()
        self.addCleanup(agent.stop)
        key = self.path("agent-key")
        sshd.authorize(make_key(key, "agent-only"))
        agent.add(key)
        os.rename(key, key + ".moved")  # not readable at its old path: only the agent has it
        local = self.wd.sub("vault")
        home = self.home("home-agent", identity=False)
        v = self.vault(sshd.location(os.fsdecode(local)), local, home=home)
        v.env.update(agent.env())
        logins = len(sshd.accepted())
        v.init()
        src = self.small_tree("src")
        v.backup(src)
        v.bt("check", "--read-data", expect=0)
        self.restore_and_compare(v, src, "restore")
        new = sshd.accepted()[logins:]
        self.assertTrue(new)
        fp = fingerprint(key + ".pub")
        self.assertTrue(all(fp in l for l in new), "\n".join(new))
        # Without the agent there is no key to offer.
        del v.env["SSH_AUTH_SOCK"]
        self.assertExit(v.bt("snapshots"), 13)

    def test_password_logins(self):
        """Password logins as a temporary account: the password comes from
        BACKUP_TOOL_SFTP_PASSWORD and is never printed; paths without a leading "/" are
        relative to the account's home in both forms; a wrong password exits 13."""
        ok = TempUser.available()
        if not ok:
            self.skipTest(ok.reason)
        user = TempUser(self.path("home-user")).create()
        self.addCleanup(user.remove)
        sshd = Sshd(self.path("sshd-pw"), password_auth=True).start()
        self.addCleanup(sshd.stop)
        home = self.home("home-tool", sshd=sshd, identity=False)
        runs = []

        def bt(v, *args, **kw):
            r = v.bt(*args, **kw)
            runs.append(r)
            return r

        src = self.small_tree("src")
        for form, name, make_location in [("colon", "vault-a", sshd.location),
                                          ("url", "vault-b", sshd.url)]:
            with self.subTest(form=form):
                loc = make_location(name, user=user.name)
                local = os.path.join(user.home, name)
                v = self.vault(loc, local, home=home, sshd=sshd, user=user.name,
                               remote_path=name)
                v.env["BACKUP_TOOL_SFTP_PASSWORD"] = user.password
                bt(v, "init", expect=0)
                # Relative to the account's home, and written as that account.
                self.assertTrue(os.path.isfile(os.path.join(local, "config")), loc)
                self.assertEqual(os.stat(os.path.join(local, "config")).st_uid, user.uid)
                bt(v, "--json", "backup", src, expect=0)
                bt(v, "check", "--read-data", expect=0)
                target = self.wd.sub(f"restore-{form}")
                bt(v, "restore", "latest", "--target", target, expect=0)
                self.assertTreesEqual(src, restored_path(target, src), compare_root=True)
                self.assertNoTempFiles(v)

                wrong = "Wr0ng-" + user.password[::-1]
                v.env["BACKUP_TOOL_SFTP_PASSWORD"] = wrong
                self.assertExit(bt(v, "snapshots"), 13)
                self.assertExit(bt(v, "--json", "backup", src), 13)
                del v.env["BACKUP_TOOL_SFTP_PASSWORD"]
                self.assertExit(bt(v, "snapshots"), 13)
                for r in runs:
                    for secret in (user.password, wrong):
                        self.assertNotIn(secret, r.stdout + r.stderr, r.describe())
        self.assertTrue([l for l in sshd.accepted("password") if user.name in l], sshd.logs())

    # ------------------------------------------------------------------------------------
    def test_a_dropped_connection_is_reconnected(self):
        """sshd's session processes are frozen in the middle of an upload and then killed,
        twice: the TCP connection drops as when a link or the server fails. The backup
        reconnects, completes, and the vault checks clean and restores the same."""
        sshd = self.sshd
        local = self.wd.sub("vault")
        v = self.vault(sshd.location(os.fsdecode(local)), local)
        v.init()
        # 48 MiB in 4 MiB packs, uploaded at 8 MiB/s: about 6 s of uploads, many objects, and
        # little CPU (this test runs under the sanitizers too).
        src = self.wd.mkdir("big")
        for i in range(4):
            harness.write_file(os.path.join(src, b"random-%02d" % i),
                               harness.pseudo_random_bytes(self.rng, 12 << 20))
        data = os.path.join(local, b"data")
        self.assertTrue(sshd.wait_idle(), "sessions of earlier runs still open")
        logins = len(sshd.accepted())
        proc = v.popen_bt("--json", "--pack-size", "4", "--limit-upload", "8192", "backup", src)
        drops = 0
        try:
            for _ in range(2):
                # Wait for a new object (finished or not) in data/: an upload under way.
                n0 = object_count(data)
                deadline = time.monotonic() + 300
                while object_count(data) == n0 and proc.poll() is None:
                    self.assertLess(time.monotonic(), deadline, "no upload started")
                    time.sleep(0.02)
                if proc.poll() is not None:
                    break
                stopped = sshd.stop_sessions()
                time.sleep(1)
                self.assertIsNone(proc.poll(), "the backup ended while its server was frozen")
                killed = sshd.kill_sessions()
                drops += 1
                harness.log(f"drop {drops}: froze {len(stopped)} and killed {len(killed)} "
                            f"session processes with {object_count(data)} objects in data/")
            out, err = proc.communicate(timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        r = harness.Run(proc.args, proc.returncode, out, err, 0)
        self.assertGreaterEqual(drops, 1, "the backup finished before its connection could "
                                "be dropped; make the tree bigger")
        self.assertExit(r, 0, "the backup did not survive the dropped connections")
        summaries = [j for j in r.json_lines()
                     if isinstance(j, dict) and j.get("message_type") == "summary"]
        self.assertEqual(len(summaries), 1, r.describe())
        relogins = len(sshd.accepted()) - logins
        self.assertGreater(relogins, drops, "no new login after a drop: " + sshd.logs())
        harness.log(f"{drops} drops, {relogins} logins; warnings: "
                    + " | ".join(l for l in r.stderr.splitlines() if "retrying" in l)[:2000])
        left = temp_files(local)
        if left:
            harness.log(f"{len(left)} temporary files of the dropped uploads left: "
                        + ", ".join(os.fsdecode(os.path.basename(p)) for p in left))
        v.bt("check", "--read-data", expect=0)
        self.restore_and_compare(v, src, "restore")
        self.restic_ok(v, "check")

    def test_a_server_gone_for_good_exits_14_within_the_bound(self):
        sshd = Sshd(self.path("sshd-gone")).start()
        try:
            local = self.wd.sub("vault")
            v = self.vault(sshd.location(os.fsdecode(local)), local, sshd=sshd)
            v.init()
        finally:
            sshd.stop()
        # BACKUP_TOOL_RETRY_SECONDS=5 (harness.base_env).
        start = time.monotonic()
        r = v.bt("snapshots")
        took = time.monotonic() - start
        self.assertExit(r, 14)
        self.assertGreaterEqual(took, 5)
        self.assertLess(took, 30)
        self.assertIn("retrying in", r.stderr)
        self.assertIn("gave up after", r.stderr)
        self.assertIn(HOST, r.stderr)
        start = time.monotonic()
        r = v.bt("--json", "backup", self.small_tree("src"))
        self.assertExit(r, 14)
        self.assertLess(time.monotonic() - start, 30)
        # --json: the exit code is in the last line.
        r = v.bt("--json", "--retry-seconds", "0", "snapshots")
        self.assertExit(r, 14)
        self.assertEqual(json.loads(r.stderr.splitlines()[-1])["code"], 14)


if __name__ == "__main__":
    harness.main([("--sftp-test", {"required": True, "help": "path of sftp_blob_store_test"})])
