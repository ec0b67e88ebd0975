# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the backup-tool integration tests (tests/integration/test_*.py).

Every test script is a standalone unittest program:

    python3 tests/integration/test_x.py --backup-tool PATH [--craft-snapshot PATH] [--seed N]
                                        [--runs N] [--keep] [unittest options]

What is here:
  * options and main(): parses our flags, hands the rest to unittest;
  * Workdir: a temporary directory per test, removed afterwards (kept with --keep);
  * Vault: runs backup-tool and restic against one vault with the test environment
    (BACKUP_TOOL_PASSWORD, BACKUP_TOOL_INSECURE_TEST_KDF=1, BACKUP_TOOL_REPOSITORY, and the
    RESTIC_* equivalents), capturing exit code, stdout and stderr;
  * a tree builder (files, sparse files, links, FIFOs, devices, xattrs, modes, owners, times);
  * a tree comparer that walks two trees with lstat and reports every difference.

All paths are bytes (os.fsencode), so names that are not valid UTF-8 survive.
"""

import argparse
import errno
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

# ----------------------------------------------------------------------------------------------
# Options

OPTIONS = argparse.Namespace(backup_tool=None, craft_snapshot=None, halleyd=None, seed=None,
                             runs=None, keep=False, trees=None, show_runs=False)

PASSWORD = "halley integration test password"


def main(extra_args=None):
    """Parses our options (plus `extra_args`: a list of (flag, kwargs) for add_argument) and
    runs the unittest main with whatever is left."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--backup-tool", required=True, help="path of the backup-tool binary")
    p.add_argument("--craft-snapshot", default=None, help="path of the craft_snapshot tool")
    p.add_argument("--halleyd", default=None, help="path of the halleyd binary")
    p.add_argument("--seed", type=int, default=None, help="replay a randomised run")
    p.add_argument("--runs", type=int, default=None, help="iterations of looping tests")
    p.add_argument("--trees", type=int, default=None, help="random trees to build")
    p.add_argument("--keep", action="store_true", help="keep temporary directories")
    p.add_argument("--show-runs", action="store_true",
                   help="print every command run with its exit code and output")
    for flag, kwargs in extra_args or []:
        p.add_argument(flag, **kwargs)
    ns, rest = p.parse_known_args()
    for k, v in vars(ns).items():
        setattr(OPTIONS, k, v)
    # scripts/test --long sets HALLEY_TEST_LONG=1: the nightly sizes of reliability.md §5.
    OPTIONS.long = os.environ.get("HALLEY_TEST_LONG") == "1"
    if OPTIONS.long:
        OPTIONS.trees = max(OPTIONS.trees or 0, 200)
        OPTIONS.runs = max(OPTIONS.runs or 0, 200)
    OPTIONS.backup_tool = os.path.abspath(OPTIONS.backup_tool)
    if OPTIONS.craft_snapshot:
        OPTIONS.craft_snapshot = os.path.abspath(OPTIONS.craft_snapshot)
    if OPTIONS.halleyd:
        OPTIONS.halleyd = os.path.abspath(OPTIONS.halleyd)
    if not os.access(OPTIONS.backup_tool, os.X_OK):
        sys.exit(f"backup-tool not executable: {OPTIONS.backup_tool}")
    # Line-buffered output so that CTest logs show progress in order.
    sys.stdout.reconfigure(line_buffering=True)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


def seeded_rng(test_name):
    """A random.Random seeded from --seed or from the clock; the seed is printed so that a
    failing run can be replayed with --seed."""
    seed = OPTIONS.seed if OPTIONS.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"[{test_name}] seed = {seed} (replay with --seed {seed})", flush=True)
    return random.Random(seed), seed


def log(msg):
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------
# Processes

class Run:
    """The result of one process run."""

    def __init__(self, argv, rc, out, err, seconds):
        self.argv, self.rc, self.out, self.err, self.seconds = argv, rc, out, err, seconds

    @property
    def stdout(self):
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self):
        return self.err.decode("utf-8", "replace")

    def describe(self):
        cmd = " ".join(a if isinstance(a, str) else os.fsdecode(a) for a in self.argv)
        return (f"$ {cmd}\nexit code {self.rc} after {self.seconds:.2f}s\n"
                f"--- stdout ---\n{_tail(self.stdout)}\n--- stderr ---\n{_tail(self.stderr)}")

    def json_lines(self, stream="out"):
        data = self.out if stream == "out" else self.err
        out = []
        for line in data.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if line.startswith("{") or line.startswith("["):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def _tail(text, limit=6000):
    return text if len(text) <= limit else "...(cut)...\n" + text[-limit:]


def base_env():
    env = dict(os.environ)
    # Nothing of the caller's setup may leak into a test.
    for k in list(env):
        if k.startswith("BACKUP_TOOL_") or k.startswith("RESTIC_"):
            del env[k]
    env["BACKUP_TOOL_PASSWORD"] = PASSWORD
    env["BACKUP_TOOL_INSECURE_TEST_KDF"] = "1"
    # A remote store that is gone is given up on after 5 s, not the default 5 minutes.
    env["BACKUP_TOOL_RETRY_SECONDS"] = "5"
    env["RESTIC_PASSWORD"] = PASSWORD
    env["TZ"] = env.get("TZ", "UTC")
    return env


def run(argv, env=None, cwd=None, timeout=600, input=None, preexec_fn=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, env=env, cwd=cwd, timeout=timeout, input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=preexec_fn)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"timeout after {timeout}s: {argv}\nstdout: {_tail(repr(e.stdout))}"
                             f"\nstderr: {_tail(repr(e.stderr))}") from None
    r = Run(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    if OPTIONS.show_runs:
        print(r.describe(), flush=True)
    return r


class Vault:
    """One vault (a local directory) and the environment to reach it with backup-tool and
    restic."""

    def __init__(self, path, workdir, password=PASSWORD):
        self.path = os.fsencode(path)
        self.workdir = workdir
        self.password = password
        self.env = base_env()
        self.env["BACKUP_TOOL_REPOSITORY"] = os.fsdecode(self.path)
        self.env["BACKUP_TOOL_PASSWORD"] = password
        self.env["RESTIC_REPOSITORY"] = os.fsdecode(self.path)
        self.env["RESTIC_PASSWORD"] = password
        cache = os.path.join(os.fsdecode(workdir), "restic-cache")
        self.env["RESTIC_CACHE_DIR"] = cache
        self.env["XDG_CACHE_HOME"] = os.path.join(os.fsdecode(workdir), "xdg-cache")

    # backup-tool ------------------------------------------------------------------------------
    def bt_argv(self, *args):
        return [OPTIONS.backup_tool] + [os.fsdecode(a) if isinstance(a, bytes) else a
                                        for a in args]

    def bt(self, *args, env=None, cwd=None, timeout=900, expect=None, extra_env=None):
        e = dict(env or self.env)
        if extra_env:
            e.update(extra_env)
        r = run(self.bt_argv(*args), env=e, cwd=cwd, timeout=timeout)
        if expect is not None and r.rc != expect:
            raise AssertionError(f"expected exit code {expect}\n{r.describe()}")
        return r

    def popen_bt(self, *args, cwd=None, **kw):
        return subprocess.Popen(self.bt_argv(*args), env=self.env, cwd=cwd,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def init(self, *extra):
        return self.bt("init", *extra, expect=0)

    def backup(self, *paths, cwd=None, extra=(), expect=0):
        """Runs `backup --json` and returns (Run, summary dict)."""
        # Paths first: see test_exit_codes.test_repeatable_flags_take_one_value.
        r = self.bt("--json", "backup", *paths, *extra, cwd=cwd, expect=expect)
        summary = None
        for j in r.json_lines():
            if isinstance(j, dict) and j.get("message_type") == "summary":
                summary = j
        if expect == 0 and summary is None:
            raise AssertionError(f"backup printed no summary\n{r.describe()}")
        return r, summary

    def restore(self, ref, target, *extra, expect=None):
        return self.bt("restore", ref, "--target", target, *extra, expect=expect)

    def snapshots(self):
        r = self.bt("--json", "snapshots", expect=0)
        return json.loads(r.stdout)

    # restic -----------------------------------------------------------------------------------
    def restic(self, *args, timeout=900, expect=None):
        r = run(["restic"] + [os.fsdecode(a) if isinstance(a, bytes) else a for a in args],
                env=self.env, timeout=timeout)
        if expect is not None and r.rc != expect:
            raise AssertionError(f"expected exit code {expect}\n{r.describe()}")
        return r

    def restic_check(self, read_data=True):
        """restic check [--read-data]; fails the test on a non-zero exit or any error line."""
        args = ["check"] + (["--read-data"] if read_data else [])
        r = self.restic(*args)
        bad = [l for l in r.stdout.splitlines() + r.stderr.splitlines()
               if is_restic_error_line(l)]
        if r.rc != 0 or bad:
            raise AssertionError("restic check failed:\n" + "\n".join(bad) + "\n" + r.describe())
        return r

    # files in the vault -----------------------------------------------------------------------
    def files(self, kind):
        """Names of the stored files of one kind ("snapshots", "locks", "index", "data"...)."""
        d = os.path.join(self.path, os.fsencode(kind))
        out = []
        for dirpath, _dirs, names in os.walk(d):
            out.extend(os.path.join(dirpath, n) for n in names)
        return sorted(out)


def is_restic_error_line(line):
    """Lines of `restic check` output that report real errors. Unreferenced packs (left by an
    interrupted backup) are information, not errors, and so is the closing
    "no errors were found"."""
    l = line.strip().lower()
    if not l or l == "no errors were found":
        return False
    if "not referenced in any index" in l or "unreferenced" in l:
        return False
    return (l.startswith("error") or l.startswith("fatal") or "hash mismatch" in l
            or "does not match" in l or "ciphertext verification failed" in l
            or "errors were found" in l or "not found in index" in l
            or "missing" in l or "damaged" in l or "invalid" in l)


# ----------------------------------------------------------------------------------------------
# Temporary directories

class Workdir:
    """A temporary directory, removed on close unless --keep."""

    def __init__(self, name="it"):
        self.path = os.fsencode(tempfile.mkdtemp(prefix=f"halley-{name}-"))
        # Unprivileged helpers (setpriv tests) must be able to traverse to their files.
        os.chmod(self.path, 0o755)

    def sub(self, *parts):
        p = os.path.join(self.path, *[os.fsencode(x) for x in parts])
        return p

    def mkdir(self, *parts):
        p = self.sub(*parts)
        os.makedirs(p, exist_ok=True)
        return p

    def close(self):
        if OPTIONS.keep:
            print(f"  kept {os.fsdecode(self.path)}")
            return
        rmtree(self.path)


def rmtree(path):
    # GNU rm copes with any depth (hostile restores nest 20 000 directories deep) and with
    # modes like 000 (we are root); shutil is the fallback for whatever it left.
    subprocess.run(["rm", "-rf", "--one-file-system", "--", os.fsdecode(path)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.lexists(path):
        return

    def onerror(func, p, exc):
        # chmod 000 directories of other users, immutable bits...: make writable and retry.
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=onerror)


class TestCase(unittest.TestCase):
    """A TestCase with a Workdir in self.wd and helpers."""

    maxDiff = None

    def setUp(self):
        self.wd = Workdir(self.id().split(".")[-1])
        self.addCleanup(self.wd.close)

    def new_vault(self, name="vault", init=True, init_args=()):
        v = Vault(self.wd.sub(name), self.wd.path)
        if init:
            v.init(*init_args)
        return v

    def assertTreesEqual(self, expected, actual, **kw):
        diffs = compare_trees(expected, actual, **kw)
        if diffs:
            shown = diffs[:200]
            more = f"\n... and {len(diffs) - 200} more" if len(diffs) > 200 else ""
            self.fail(f"{len(diffs)} differences between {os.fsdecode(expected)} (expected) "
                      f"and {os.fsdecode(actual)} (restored):\n  " + "\n  ".join(shown) + more)

    def assertExit(self, r, code, msg=""):
        if r.rc != code:
            self.fail(f"expected exit code {code}, got {r.rc}. {msg}\n{r.describe()}")

    def restic_ok(self, v, *args):
        """Runs restic on vault `v`; fails the test on a non-zero exit or any error line."""
        r = v.restic(*args)
        bad = [line for line in r.stdout.splitlines() + r.stderr.splitlines()
               if is_restic_error_line(line)]
        if r.rc != 0 or bad:
            self.fail("restic failed:\n" + "\n".join(bad) + "\n" + r.describe())
        return r


# ----------------------------------------------------------------------------------------------
# Tree builder

NS = 1_000_000_000
CHUNK_MIN = 512 * 1024
CHUNK_MAX = 8 * 1024 * 1024


def flip_bit(path, bit):
    """Flips bit `bit` (counted from the start of the file) in place: damage at rest."""
    fd = os.open(path, os.O_RDWR)
    try:
        b = bytearray(os.pread(fd, 1, bit // 8))
        b[0] ^= 1 << (bit % 8)
        os.pwrite(fd, bytes(b), bit // 8)
    finally:
        os.close(fd)


def pseudo_random_bytes(rng, n):
    """Fast pseudo-random bytes from a seeded generator (incompressible, reproducible)."""
    if n == 0:
        return b""
    # random.randbytes is reproducible for a seed and fast enough (~1 GB/s).
    return rng.randbytes(n)


def write_file(path, data, mode=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(path, mode)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_sparse(path, size, blocks):
    """A sparse file of `size` bytes with data only at `blocks`: list of (offset, bytes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for off, data in blocks:
            os.pwrite(fd, data, off)
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def set_mtime(path, mtime_ns, atime_ns=None):
    os.utime(path, ns=(atime_ns if atime_ns is not None else mtime_ns, mtime_ns),
             follow_symlinks=False)


def set_xattr(path, name, value):
    os.setxattr(path, os.fsencode(name), value, follow_symlinks=False)


def walk_paths(root):
    """Every path beneath root (bytes), parents before children."""
    out = []

    def rec(d):
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            out.append(p)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                rec(p)
    rec(root)
    return out


def set_times_bottom_up(root, rng, overrides=None, include_root=False):
    """Gives every entry beneath root a random mtime with a nanosecond part, children before
    parents (creating entries changes a directory's mtime). `overrides` maps paths to fixed
    mtimes in ns."""
    overrides = overrides or {}
    paths = walk_paths(root)
    if include_root:
        paths = [root] + paths
    for p in reversed(paths):
        if p in overrides:
            t = overrides[p]
        else:
            t = rng.randrange(1_500_000_000, 1_800_000_000) * NS + rng.randrange(1, NS)
        set_mtime(p, t, t - rng.randrange(0, 10**6) * NS)


NAMES_HOSTILE_BUT_VALID = [
    b"with space",
    b" leading and trailing space ",
    b"new\nline",
    b"tab\there",
    b"back\\slash",
    b"double\"quote",
    b"single'quote",
    b"percent%s%n",
    b"-dash-first",
    "unicode-\u00fc\u00f1\u00ef\u00e7\u00f8d\u00e9-\u65e5\u672c\u8a9e-\U0001F600".encode(),
    b"invalid-utf8-\xff\xfe\x80",
    b"latin1-\xe9t\xe9",
    b"ctrl-\x01\x1b[0m",
    b"html-<&>",
    b"n" * 255,
]


def build_restic_tree(root, rng):
    """A tree for vaults restic also reads: every file type (no non-UTF-8 symlink targets,
    which restic 0.14 cannot store; see test_restic_compat), a 16 MiB sparse file and 5 MiB of
    random data. Returns `root`."""
    build_every_type_tree(root, rng, big=False, nonutf8_symlink=False, sparse_size=16 << 20)
    write_file(os.path.join(root, b"random-5MiB"), pseudo_random_bytes(rng, 5 << 20))
    return root


def build_every_type_tree(root, rng, big=True, nonutf8_symlink=True, sparse_size=100 << 20,
                          devices=True, owners=True):
    """Builds a tree holding every kind of entry and metadata the comparer checks. Returns a
    dict of facts the caller may want (paths of the sparse file, etc.)."""
    facts = {}
    os.makedirs(root, exist_ok=True)
    j = lambda *p: os.path.join(root, *p)  # noqa: E731
    # Regular files of interesting sizes.
    sizes = {b"empty": 0, b"one": 1, b"min-1": CHUNK_MIN - 1, b"min": CHUNK_MIN,
             b"min+1": CHUNK_MIN + 1, b"max+1": CHUNK_MAX + 1, b"small-text": 1234}
    os.mkdir(j(b"sizes"))
    for name, n in sizes.items():
        write_file(j(b"sizes", name), pseudo_random_bytes(rng, n))
    write_file(j(b"sizes", b"zeros-3MiB"), bytes(3 << 20))  # compressible, repeated blob
    if big:
        write_file(j(b"random-40MiB"), pseudo_random_bytes(rng, 40 << 20))
    # Sparse: 100 MiB apparent size, a few written blocks (one at the very end).
    if sparse_size:
        blocks = [(0, b"start" * 100), (37 << 20, pseudo_random_bytes(rng, 8192)),
                  (sparse_size - 4096, b"E" * 4096)]
        write_sparse(j(b"sparse"), sparse_size, blocks)
        facts["sparse"] = j(b"sparse")
    # Nested 10 deep.
    d = root
    for i in range(10):
        d = os.path.join(d, b"deep%d" % i)
        os.mkdir(d)
    write_file(os.path.join(d, b"bottom.txt"), b"ten levels down\n")
    facts["deep"] = d
    # Symlinks.
    os.mkdir(j(b"links"))
    os.symlink(b"../sizes/one", j(b"links", b"relative"))
    os.symlink(b"does/not/exist", j(b"links", b"dangling"))
    os.symlink(b"/etc/hostname", j(b"links", b"absolute"))
    os.symlink(b"target with space and \xc3\xbc", j(b"links", b"utf8-target"))
    if nonutf8_symlink:
        os.symlink(b"bad-\xff-target", j(b"links", b"nonutf8-target"))
    os.symlink(b"subdir-target", j(b"links", b"to-dir"))
    os.mkdir(j(b"links", b"subdir-target"))
    # Hardlinks: a pair and a triple (in different directories).
    os.mkdir(j(b"hard"))
    os.mkdir(j(b"hard", b"other"))
    write_file(j(b"hard", b"pair-a"), b"hardlink pair\n" * 100)
    os.link(j(b"hard", b"pair-a"), j(b"hard", b"pair-b"))
    write_file(j(b"hard", b"triple-1"), pseudo_random_bytes(rng, 70000))
    os.link(j(b"hard", b"triple-1"), j(b"hard", b"triple-2"))
    os.link(j(b"hard", b"triple-1"), j(b"hard", b"other", b"triple-3"))
    # Special files.
    os.mkdir(j(b"special"))
    os.mkfifo(j(b"special", b"fifo"), 0o640)
    if devices:
        os.mknod(j(b"special", b"char-null"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
        os.mknod(j(b"special", b"block-loop"), stat.S_IFBLK | 0o640, os.makedev(7, 200))
        os.mknod(j(b"special", b"char-big"), stat.S_IFCHR | 0o644, os.makedev(4095, 1048575))
    # Xattrs.
    os.mkdir(j(b"xattr"))
    write_file(j(b"xattr", b"file"), b"has xattrs\n")
    set_xattr(j(b"xattr", b"file"), "user.comment", b"hello")
    set_xattr(j(b"xattr", b"file"), "user.binary", bytes(range(256)))
    set_xattr(j(b"xattr", b"file"), "user.empty", b"")
    set_xattr(j(b"xattr"), "user.on-dir", b"directory attribute")
    # Modes.
    os.mkdir(j(b"modes"))
    for name, mode in [(b"setuid", 0o4755), (b"setgid", 0o2750), (b"sticky-file", 0o1644),
                       (b"all-special", 0o7777), (b"none", 0o000), (b"exec", 0o711),
                       (b"readonly", 0o444)]:
        write_file(j(b"modes", name), name * 10)
        os.chmod(j(b"modes", name), mode)
    os.mkdir(j(b"modes", b"sticky-dir"))
    os.chmod(j(b"modes", b"sticky-dir"), 0o1777)
    os.mkdir(j(b"modes", b"setgid-dir"))
    os.chmod(j(b"modes", b"setgid-dir"), 0o2755)
    os.mkdir(j(b"modes", b"private-dir"))
    os.chmod(j(b"modes", b"private-dir"), 0o700)
    # Owners (we are root).
    if owners:
        os.mkdir(j(b"owners"))
        for name, uid, gid in [(b"u1234", 1234, 5678), (b"nobody", 65534, 65534),
                               (b"big-id", 4000000000, 3000000000)]:
            write_file(j(b"owners", name), name)
            os.chown(j(b"owners", name), uid, gid)
        os.symlink(b"u1234", j(b"owners", b"link-owned"))
        os.chown(j(b"owners", b"link-owned"), 777, 888, follow_symlinks=False)
        os.mkdir(j(b"owners", b"dir-owned"))
        os.chown(j(b"owners", b"dir-owned"), 4321, 8765)
    # Names.
    os.mkdir(j(b"names"))
    for name in NAMES_HOSTILE_BUT_VALID:
        write_file(j(b"names", name), b"name: " + name)
    os.mkdir(j(b"names", b"dir with \xff and \n"))
    write_file(j(b"names", b"dir with \xff and \n", b"inner"), b"inner\n")
    # Times.
    os.mkdir(j(b"times"))
    overrides = {}
    for name, t in [(b"epoch-plus-1ns", 1), (b"1970", 86400 * 10 * NS + 123456789),
                    (b"2100", 4102444800 * NS + 999999999), (b"2038-after", 2**31 * NS + 5),
                    (b"round-second", 1_600_000_000 * NS)]:
        write_file(j(b"times", name), name)
        overrides[j(b"times", name)] = t
    set_times_bottom_up(root, rng, overrides)
    return facts


# ----------------------------------------------------------------------------------------------
# Tree comparer

def _type_name(mode):
    for test, name in [(stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "chardev"),
                       (stat.S_ISBLK, "blockdev"), (stat.S_ISSOCK, "socket")]:
        if test(mode):
            return name
    return "unknown"


def file_digest(path):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def user_xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    out = {}
    for n in names:
        if n.startswith("user."):
            out[n] = os.getxattr(path, n, follow_symlinks=False)
    return out


def scan_tree(root, with_content=True, skip=()):
    """Metadata of every entry beneath root: {relpath(bytes): dict}. Keys: type, size, mode,
    uid, gid, mtime_ns, target, rdev, xattrs, sha256, ino (dev, ino). Directories whose relative
    path is in `skip` are recorded but not entered."""
    entries = {}

    def rec(d, rel):
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            r = os.path.join(rel, name) if rel else name
            st = os.lstat(p)
            e = {"type": _type_name(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
                 "uid": st.st_uid, "gid": st.st_gid, "mtime_ns": st.st_mtime_ns,
                 "ino": (st.st_dev, st.st_ino), "nlink": st.st_nlink,
                 "blocks": st.st_blocks}
            if stat.S_ISREG(st.st_mode):
                e["size"] = st.st_size
                if with_content:
                    e["sha256"] = file_digest(p)
            if stat.S_ISLNK(st.st_mode):
                e["target"] = os.readlink(p)
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            e["xattrs"] = user_xattrs(p)
            entries[r] = e
            if stat.S_ISDIR(st.st_mode) and r not in skip:
                rec(p, r)
    rec(root, b"")
    return entries


def hardlink_groups(entries):
    """Sets of paths sharing an inode (only groups of two or more within the tree)."""
    by_ino = {}
    for p, e in entries.items():
        if e["type"] != "dir":
            by_ino.setdefault(e["ino"], set()).add(p)
    return {frozenset(s) for s in by_ino.values() if len(s) > 1}


COMPARED = ("type", "size", "sha256", "mode", "uid", "gid", "mtime_ns", "target", "rdev",
            "xattrs")


def compare_trees(expected, actual, ignore=(), compare_root=False, ignore_paths=(),
                  dir_mtime=True):
    """Every difference between the trees at `expected` and `actual` (bytes paths), as a list of
    readable strings. `ignore` names fields not to compare; `ignore_paths` relative paths (and
    everything beneath them) to skip; `dir_mtime=False` skips mtimes of directories."""
    exp = scan_tree(expected)
    act = scan_tree(actual)
    if compare_root:
        for tree, root in ((exp, expected), (act, actual)):
            st = os.lstat(root)
            tree[b"."] = {"type": "dir", "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                          "gid": st.st_gid, "mtime_ns": st.st_mtime_ns,
                          "ino": (st.st_dev, st.st_ino), "xattrs": user_xattrs(root)}

    def skipped(p):
        return any(p == ip or p.startswith(ip + b"/") for ip in ignore_paths)

    diffs = []
    show = lambda p: repr(p)[1:]  # noqa: E731  b'...' -> '...' with escapes
    for p in sorted(set(exp) | set(act)):
        if skipped(p):
            continue
        if p not in act:
            diffs.append(f"{show(p)}: missing (expected {exp[p]['type']})")
            continue
        if p not in exp:
            diffs.append(f"{show(p)}: unexpected {act[p]['type']}")
            continue
        a, b = exp[p], act[p]
        for f in COMPARED:
            if f in ignore:
                continue
            if f == "mtime_ns" and a["type"] == "dir" and not dir_mtime:
                continue
            if f == "sha256" and "sha256" not in a:
                continue
            if a.get(f) != b.get(f):
                va, vb = a.get(f), b.get(f)
                if f == "xattrs":
                    keys = sorted(k for k in set(va) | set(vb or {}) if va.get(k) != (vb or {}).get(k))
                    diffs.append(f"{show(p)}: xattrs differ in {keys}")
                    continue
                if f == "mode":
                    va, vb = oct(va), oct(vb) if vb is not None else None
                if f == "mtime_ns" and va is not None and vb is not None:
                    diffs.append(f"{show(p)}: mtime_ns {va} != {vb} (off by {vb - va} ns)")
                    continue
                diffs.append(f"{show(p)}: {f} {va!r} != {vb!r}")
            if f == "type" and a["type"] != b["type"]:
                break
    if "hardlinks" not in ignore:
        ge = {g for g in hardlink_groups(exp) if not any(skipped(p) for p in g)}
        ga = {g for g in hardlink_groups(act) if not any(skipped(p) for p in g)}
        for g in sorted(ge - ga, key=sorted):
            diffs.append("hardlink group lost: " + ", ".join(show(p) for p in sorted(g)))
        for g in sorted(ga - ge, key=sorted):
            diffs.append("unexpected hardlink group: " + ", ".join(show(p) for p in sorted(g)))
    return diffs


def manifest(root):
    """A compact record of a tree (for comparing against later without keeping a copy)."""
    return scan_tree(root)


def compare_manifest(exp, actual_root, ignore=("ino",), dir_mtime=True):
    """Differences between a recorded manifest and the tree at actual_root."""
    act = scan_tree(actual_root)
    diffs = []
    for p in sorted(set(exp) | set(act)):
        if p not in act:
            diffs.append(f"{p!r}: missing")
            continue
        if p not in exp:
            diffs.append(f"{p!r}: unexpected")
            continue
        for f in COMPARED:
            if f == "mtime_ns" and exp[p]["type"] == "dir" and not dir_mtime:
                continue
            if exp[p].get(f) != act[p].get(f):
                diffs.append(f"{p!r}: {f} {exp[p].get(f)!r} != {act[p].get(f)!r}")
    ge, ga = hardlink_groups(exp), hardlink_groups(act)
    if ge != ga:
        diffs.append(f"hardlink groups differ: {sorted(map(sorted, ge ^ ga))}")
    return diffs


def tree_snapshot(root, skip=()):
    """Names, types, contents, modes and mtimes of everything beneath root, for checking that
    nothing outside a restore target changed. Symlinks are recorded, not followed."""
    out = {}
    if not os.path.lexists(root):
        return out
    st = os.lstat(root)
    out[b"."] = (_type_name(st.st_mode), stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_nlink)
    for p, e in scan_tree(root, skip=skip).items():
        out[p] = (e["type"], e["mode"], e["mtime_ns"], e.get("sha256"), e.get("target"),
                  e.get("size"), e["nlink"], tuple(sorted(e["xattrs"].items())))
    return out


def diff_tree_snapshots(before, after):
    diffs = []
    for p in sorted(set(before) | set(after)):
        if before.get(p) != after.get(p):
            diffs.append(f"{p!r}: {before.get(p)!r} -> {after.get(p)!r}")
    return diffs


# ----------------------------------------------------------------------------------------------
# Misc

def find_restic():
    return shutil.which("restic")


def snapshot_ids(vault):
    """IDs (file names) of the snapshots in the vault, straight from the directory. A write
    killed midway leaves a `.tmp-` file there, which is not a snapshot."""
    names = (os.path.basename(p).decode() for p in vault.files("snapshots"))
    return sorted(n for n in names if len(n) == 64 and all(c in "0123456789abcdef" for c in n))


def hostname():
    return os.uname().nodename


def copy_tree(src, dst):
    """Copies a tree preserving everything the comparer checks (cp -a keeps hardlinks,
    xattrs, devices, owners and nanosecond times)."""
    r = run(["cp", "-a", "--sparse=always", os.fsdecode(src), os.fsdecode(dst)])
    if r.rc != 0:
        raise AssertionError(r.describe())


__all__ = [n for n in dir() if not n.startswith("_")]
