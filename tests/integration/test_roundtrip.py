#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Round trip: backup then restore gives back a bit-identical tree with identical metadata.

Issue "Must show": round trip of a tree with every file type: bit-identical content and
metadata. reliability.md A1 (property test over random trees) and A2 (incremental).

  python3 tests/integration/test_roundtrip.py --backup-tool build/apps/backup-tool/backup-tool \
      [--trees 15] [--seed N]
"""

import os
import random
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class EveryTypeRoundTrip(harness.TestCase):
    """One tree with every file type, backed up once (class fixture), restored several ways."""

    @classmethod
    def setUpClass(cls):
        cls.cwd = harness.Workdir("roundtrip")
        cls.rng, cls.seed = harness.seeded_rng("EveryTypeRoundTrip")
        cls.src = cls.cwd.sub("src")
        harness.log("building the every-type tree")
        cls.facts = harness.build_every_type_tree(cls.src, cls.rng)
        cls.vault = harness.Vault(cls.cwd.sub("vault"), cls.cwd.path)
        cls.vault.init()
        harness.log("backup")
        r, cls.summary = cls.vault.backup(cls.src)
        cls.snap = cls.summary["snapshot_id"]
        harness.log(f"snapshot {cls.snap[:8]} in {r.seconds:.1f}s: {cls.summary}")

    @classmethod
    def tearDownClass(cls):
        cls.cwd.close()

    def test_snapshot_path_restores_identical_tree(self):
        """SNAPSHOT:PATH restores the contents of PATH: here the whole source, which must come
        back bit-identical with all metadata, holes included."""
        target = self.wd.sub("target")
        r = self.vault.restore(f"{self.snap}:{os.fsdecode(self.src)}", target)
        self.assertExit(r, 0)
        self.assertTreesEqual(self.src, target)
        # The sparse file must still be sparse: 100 MiB apparent, a few KiB allocated.
        st_src = os.lstat(self.facts["sparse"])
        st = os.lstat(os.path.join(target, b"sparse"))
        self.assertEqual(st.st_size, 100 << 20)
        self.assertLess(st_src.st_blocks * 512, 1 << 20, "the source itself is not sparse")
        self.assertLess(st.st_blocks * 512, 4 << 20,
                        f"restored sparse file has {st.st_blocks * 512} bytes allocated for "
                        f"{st.st_size} bytes: holes were written as data")

    def test_full_snapshot_restore(self):
        """Restoring the whole snapshot recreates the absolute path beneath the target, and the
        source directory itself keeps its metadata."""
        target = self.wd.sub("target")
        self.assertExit(self.vault.restore(self.snap, target), 0)
        restored = os.path.join(target, self.src.lstrip(b"/"))
        self.assertTrue(os.path.isdir(restored), f"{restored!r} not restored")
        self.assertTreesEqual(self.src, restored, compare_root=True)

    def test_snapshot_path_subdirectory_and_file(self):
        """SNAPSHOT:PATH for a subdirectory restores exactly its contents; for a file, the file."""
        target = self.wd.sub("sub")
        path = os.path.join(self.src, b"hard")
        self.assertExit(self.vault.restore(f"{self.snap}:{os.fsdecode(path)}", target), 0)
        self.assertTreesEqual(path, target)

        target = self.wd.sub("deep")
        path = os.path.join(self.src, b"deep0", b"deep1", b"deep2")
        self.assertExit(self.vault.restore(f"latest:{os.fsdecode(path)}", target), 0)
        self.assertTreesEqual(path, target)

        target = self.wd.sub("one-file")
        path = os.path.join(self.src, b"sizes", b"min+1")
        self.assertExit(self.vault.restore(f"{self.snap[:8]}:{os.fsdecode(path)}", target), 0)
        self.assertEqual(os.listdir(target), [b"min+1"])
        self.assertEqual(harness.file_digest(path),
                         harness.file_digest(os.path.join(target, b"min+1")))
        self.assertEqual(os.lstat(path).st_mtime_ns,
                         os.lstat(os.path.join(target, b"min+1")).st_mtime_ns)

        r = self.vault.restore(f"{self.snap}:{os.fsdecode(self.src)}/no/such/path",
                               self.wd.sub("none"))
        self.assertNotEqual(r.rc, 0, "restoring a path that is not in the snapshot succeeded")

    def test_include_restores_only_matching_paths(self):
        """--include restores the matching items (with everything beneath a matching directory)
        and nothing else but their parent directories."""
        target = self.wd.sub("target")
        hard = os.fsdecode(os.path.join(self.src, b"hard"))
        r = self.vault.restore(self.snap, target, "--include", hard,
                               "--include", "deep5", "--include", "fifo")
        self.assertExit(r, 0)
        restored_root = os.path.join(target, self.src.lstrip(b"/"))
        src = harness.scan_tree(self.src)
        got = harness.scan_tree(restored_root) if os.path.isdir(restored_root) else {}
        expected = {p for p, e in src.items() if e["type"] != "dir" and (
            p.startswith(b"hard/") or b"/deep5/" in b"/" + p or p == b"special/fifo")}
        self.assertIn(b"hard/other/triple-3", expected)  # the expectation itself is sane
        self.assertIn(b"deep0/deep1/deep2/deep3/deep4/deep5/deep6/deep7/deep8/deep9/bottom.txt",
                      expected)
        got_nondirs = {p for p, e in got.items() if e["type"] != "dir"}
        self.assertEqual(sorted(got_nondirs - expected), [], "restored but not included")
        self.assertEqual(sorted(expected - got_nondirs), [], "included but not restored")
        diffs = []
        for p in sorted(expected & got_nondirs):
            for f in harness.COMPARED:
                if src[p].get(f) != got[p].get(f):
                    diffs.append(f"{p!r}: {f} {src[p].get(f)!r} != {got[p].get(f)!r}")
        self.assertEqual(diffs, [])
        # The triple hardlink is complete within the included set.
        ino = {got[p]["ino"] for p in got_nondirs if b"triple" in p}
        self.assertEqual(len(ino), 1, "hardlinks of the included triple were not kept")
        # Directories: only the parents of included items and the included trees.
        got_dirs = {p for p, e in got.items() if e["type"] == "dir"}
        allowed_dirs = {p for p in src if src[p]["type"] == "dir" and any(
            q.startswith(p + b"/") for q in expected)}
        self.assertEqual(sorted(got_dirs - allowed_dirs), [],
                         "directories that neither match nor lead to a match were created")

    def test_include_glob(self):
        """An unanchored glob matches names at any depth."""
        target = self.wd.sub("target")
        r = self.vault.restore(f"{self.snap}:{os.fsdecode(self.src)}", target,
                               "--include", "triple-*", "--include", "*.txt")
        self.assertExit(r, 0)
        got = {p for p, e in harness.scan_tree(target).items() if e["type"] != "dir"}
        src = harness.scan_tree(self.src)
        expected = {p for p, e in src.items() if e["type"] != "dir" and (
            os.path.basename(p).startswith(b"triple-") or p.endswith(b".txt"))}
        self.assertEqual(len(expected), 4)
        self.assertEqual(sorted(got), sorted(expected))

    def test_backup_again_adds_no_data(self):
        """A second backup of the unchanged tree reads nothing new and adds no file data; its
        snapshot restores identical."""
        r, s = self.vault.backup(self.src)
        n_files = sum(1 for e in harness.scan_tree(self.src, with_content=False).values()
                      if e["type"] == "file")
        self.assertEqual(s.get("files_new"), 0, s)
        self.assertEqual(s.get("files_changed"), 0, s)
        self.assertEqual(s.get("files_unmodified"), n_files, s)
        self.assertLess(s.get("data_added"), 1 << 20, s)
        target = self.wd.sub("target")
        self.assertExit(self.vault.restore(f"{s['snapshot_id']}:{os.fsdecode(self.src)}",
                                           target), 0)
        self.assertTreesEqual(self.src, target)


class ComparerSelfTest(harness.TestCase):
    """The comparer must notice every kind of difference it claims to check, or the round
    trips above prove nothing."""

    def test_comparer_reports_every_difference(self):
        rng, _ = harness.seeded_rng("ComparerSelfTest")
        a = self.wd.sub("a")
        harness.build_every_type_tree(a, rng, big=False, sparse_size=1 << 20)
        b = self.wd.sub("b")
        harness.copy_tree(a, b)
        self.assertEqual(harness.compare_trees(a, b, compare_root=True), [])
        j = lambda *p: os.path.join(b, *p)  # noqa: E731
        st = os.lstat(j(b"sizes", b"one"))
        show = lambda p: repr(p)[1:]  # noqa: E731  as the comparer prints paths
        mutations = [
            (lambda: harness.set_mtime(j(b"times", b"2100"), 4102444800 * NS + 999999998),
             show(b"times/2100") + ": mtime_ns"),
            (lambda: harness.set_mtime(j(b"links", b"dangling"), 5 * NS),
             show(b"links/dangling") + ": mtime_ns"),
            (lambda: os.chmod(j(b"modes", b"setuid"), 0o755), show(b"modes/setuid") + ": mode"),
            (lambda: os.chmod(j(b"modes", b"sticky-dir"), 0o777), show(b"modes/sticky-dir") + ": mode"),
            (lambda: os.chown(j(b"owners", b"u1234"), 1234, 5679), show(b"owners/u1234") + ": gid"),
            (lambda: os.chown(j(b"owners", b"link-owned"), 778, 888, follow_symlinks=False),
             show(b"owners/link-owned") + ": uid"),
            (lambda: harness.set_xattr(j(b"xattr", b"file"), "user.comment", b"hellO"),
             show(b"xattr/file") + ": xattrs"),
            (lambda: os.removexattr(j(b"xattr"), "user.on-dir"), show(b"xattr") + ": xattrs"),
            (lambda: (os.unlink(j(b"links", b"relative")),
                      os.symlink(b"../sizes/onE", j(b"links", b"relative"))),
             show(b"links/relative") + ": target"),
            (lambda: (os.unlink(j(b"special", b"char-null")),
                      os.mknod(j(b"special", b"char-null"), stat.S_IFCHR | 0o600,
                               os.makedev(1, 5))),
             show(b"special/char-null") + ": rdev"),
            (lambda: (os.unlink(j(b"special", b"fifo")),
                      harness.write_file(j(b"special", b"fifo"), b"")),
             show(b"special/fifo") + ": type"),
            (lambda: (harness.write_file(j(b"sizes", b"one"), b"\x00" if
                                         harness.read_file(j(b"sizes", b"one")) != b"\x00"
                                         else b"\x01"),
                      os.utime(j(b"sizes", b"one"), ns=(st.st_atime_ns, st.st_mtime_ns))),
             show(b"sizes/one") + ": sha256"),
            (lambda: (os.unlink(j(b"hard", b"pair-b")),
                      harness.copy_tree(j(b"hard", b"pair-a"), j(b"hard", b"pair-b"))),
             "hardlink group lost: 'hard/pair-a', 'hard/pair-b'"),
            (lambda: os.unlink(j(b"names", b"new\nline")),
             show(b"names/new\nline") + ": missing"),
            (lambda: harness.write_file(j(b"names", b"extra-\xff"), b""),
             show(b"names/extra-\xff") + ": unexpected"),
            (lambda: harness.set_mtime(b, 7 * NS), show(b".") + ": mtime_ns"),
        ]
        for mutate, _ in mutations:
            mutate()
        diffs = harness.compare_trees(a, b, compare_root=True)
        text = "\n".join(diffs)
        missed = [want for _, want in mutations if want not in text]
        self.assertEqual(missed, [], "the comparer missed differences; it reported:\n" + text)


class Incremental(harness.TestCase):
    def test_incremental_after_mutating_one_percent(self):
        """Mutate 1-2 % of 400 files (content with the same size and the old mtime put back, an
        append, a delete, a new file, a chmod, a file turned into a directory and one into a
        symlink, a rename over a file keeping size and mtime): the incremental backup restores
        the new state, reads only what changed, and the first snapshot still restores the old
        state."""
        rng, _ = harness.seeded_rng("Incremental")
        src = self.wd.sub("src")
        os.mkdir(src)
        files = []
        for d in range(20):
            dd = os.path.join(src, b"dir%02d" % d)
            os.mkdir(dd)
            for f in range(20):
                p = os.path.join(dd, b"file%02d" % f)
                harness.write_file(p, harness.pseudo_random_bytes(rng, rng.randrange(1, 20000)))
                files.append(p)
        harness.set_times_bottom_up(src, rng)
        v = self.new_vault()
        _, s1 = v.backup(src)
        first = self.wd.sub("first")
        self.assertExit(v.restore(f"{s1['snapshot_id']}:{os.fsdecode(src)}", first), 0)
        self.assertTreesEqual(src, first)

        # 1 %: four files changed, one added.
        same_size, appended, deleted, chmodded = rng.sample(files, 4)
        st = os.lstat(same_size)
        data = bytearray(harness.read_file(same_size))
        data[len(data) // 2] ^= 0xFF
        harness.write_file(same_size, bytes(data))
        os.utime(same_size, ns=(st.st_atime_ns, st.st_mtime_ns))  # only ctime tells
        with open(appended, "ab") as f:
            f.write(b"appended")
        os.unlink(deleted)
        os.chmod(chmodded, 0o600)
        harness.write_file(os.path.join(src, b"dir03", b"new-file"), b"new\n")
        # Type changes and a rename over an existing name (new inode, same size and mtime).
        a, b, c, d = rng.sample([f for f in files if f not in (same_size, appended, deleted,
                                                                  chmodded)], 4)
        os.unlink(a)
        os.mkdir(a)
        harness.write_file(os.path.join(a, b"inside"), b"was a file\n")
        os.unlink(b)
        os.symlink(b"../somewhere", b)
        st_c = os.lstat(c)
        tmp = c + b".tmp"
        harness.write_file(tmp, harness.read_file(d)[:st_c.st_size].ljust(st_c.st_size, b"#"))
        os.utime(tmp, ns=(st_c.st_atime_ns, st_c.st_mtime_ns))
        os.rename(tmp, c)

        _, s2 = v.backup(src)
        self.assertEqual(s2.get("parent"), s1["snapshot_id"], s2)
        # new-file and a/inside are new; same-size, appended, chmodded and the renamed c changed;
        # a (now a directory), b (now a symlink) and the deleted file are no longer files.
        self.assertEqual(s2["files_new"], 2, s2)
        self.assertEqual(s2["files_changed"], 4, s2)
        self.assertEqual(s2["files_unmodified"], 400 - 7, s2)
        # At most the five files with new content are stored (one chunk each; they are
        # under 20 kB); data_added also counts the 25 rewritten trees (about 7 kB each).
        self.assertLessEqual(s2["data_blobs"], 5, s2)
        self.assertLess(s2["data_added"], 5 * 20_000 + 25 * 12_000, s2)
        second = self.wd.sub("second")
        self.assertExit(v.restore(f"{s2['snapshot_id']}:{os.fsdecode(src)}", second), 0)
        self.assertTreesEqual(src, second)
        # The first snapshot is untouched.
        again = self.wd.sub("first-again")
        self.assertExit(v.restore(f"{s1['snapshot_id']}:{os.fsdecode(src)}", again), 0)
        self.assertTreesEqual(first, again)


class OverwriteModes(harness.TestCase):
    T = 1_700_000_000 * harness.NS + 5
    SIZE = 100

    def content(self, tag, name, size=SIZE):
        return (tag + b":" + name).ljust(size, b".")

    def test_overwrite_modes(self):
        """--overwrite always|if-newer|if-different|never replace exactly the files their
        documentation says (restorer.h) and leave the others byte-for-byte alone."""
        src = self.wd.sub("src")
        os.mkdir(src)
        names = [b"older", b"newer", b"same-meta", b"diff-size", b"missing"]
        for n in names:
            p = os.path.join(src, n)
            harness.write_file(p, self.content(b"snapshot", n))
            harness.set_mtime(p, self.T)
        v = self.new_vault()
        _, s = v.backup(src)
        local = {  # name -> (content, mtime) of the file already in the target
            b"older": (self.content(b"local", b"older"), self.T - 1000 * harness.NS),
            b"newer": (self.content(b"local", b"newer"), self.T + 1000 * harness.NS),
            b"same-meta": (self.content(b"local", b"same-meta"), self.T),
            b"diff-size": (self.content(b"local", b"diff-size", 50), self.T),
        }
        expect_replaced = {
            "always": {b"older", b"newer", b"same-meta", b"diff-size", b"missing"},
            "if-newer": {b"older", b"missing"},
            "if-different": {b"older", b"newer", b"diff-size", b"missing"},
            "never": {b"missing"},
        }
        problems = []
        for mode, replaced in expect_replaced.items():
            target = self.wd.sub("target-" + mode)
            os.mkdir(target)
            for n, (data, mtime) in local.items():
                harness.write_file(os.path.join(target, n), data)
                harness.set_mtime(os.path.join(target, n), mtime)
            r = v.restore(f"{s['snapshot_id']}:{os.fsdecode(src)}", target,
                          "--overwrite", mode)
            if r.rc != 0:
                problems.append(f"--overwrite {mode}: exit {r.rc}: {r.stderr.strip()}")
            for n in names:
                p = os.path.join(target, n)
                got = harness.read_file(p) if os.path.exists(p) else None
                if n in replaced:
                    want, want_mtime = self.content(b"snapshot", n), self.T
                else:
                    want, want_mtime = local[n]
                if got != want:
                    problems.append(f"--overwrite {mode}: {n.decode()} is {got!r}, "
                                    f"expected {'snapshot' if n in replaced else 'local'} "
                                    f"version {want!r}")
                elif os.lstat(p).st_mtime_ns != want_mtime:
                    problems.append(f"--overwrite {mode}: {n.decode()} mtime "
                                    f"{os.lstat(p).st_mtime_ns} != {want_mtime}")
        r = v.restore(s["snapshot_id"], self.wd.sub("bad"), "--overwrite", "sometimes")
        if r.rc == 0:
            problems.append("--overwrite sometimes was accepted")
        self.assertEqual(problems, [], "\n".join(problems))


class Pre1970(harness.TestCase):
    def test_mtime_before_1970(self):
        """ext4 stores times before 1970; they must round-trip like any other."""
        src = self.wd.sub("src")
        os.mkdir(src)
        times = {b"1969-minus-half-second": -NS // 2, b"1960": -315619200 * NS + 7,
                 b"1901": -(2**31) * NS + 123}
        for n, t in times.items():
            harness.write_file(os.path.join(src, n), n)
            harness.set_mtime(os.path.join(src, n), t)
        v = self.new_vault()
        _, s = v.backup(src)
        target = self.wd.sub("target")
        self.assertExit(v.restore(f"{s['snapshot_id']}:{os.fsdecode(src)}", target), 0)
        self.assertTreesEqual(src, target)


class OneFileSystem(harness.TestCase):
    def test_one_file_system_keeps_mount_points_not_their_contents(self):
        """-x stops at file system boundaries; the mount point itself is kept (as restic)."""
        src = self.wd.sub("src")
        mnt = os.path.join(src, b"mnt")
        os.makedirs(mnt)
        harness.write_file(os.path.join(src, b"here"), b"on the source file system")
        if subprocess.run(["mount", "-t", "tmpfs", "none", mnt],
                          stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("cannot mount a tmpfs here")
        try:
            harness.write_file(os.path.join(mnt, b"elsewhere"), b"on another file system")
            v = self.new_vault()
            _, crossed = v.backup(src)
            _, stayed = v.backup(src, extra=("--one-file-system",))
        finally:
            subprocess.run(["umount", mnt], check=True)
        listing = v.bt("ls", stayed["snapshot_id"], expect=0).stdout
        self.assertIn(os.fsdecode(src) + "/here", listing)
        self.assertIn(os.fsdecode(src) + "/mnt", listing)
        self.assertNotIn("elsewhere", listing)
        self.assertIn("elsewhere", v.bt("ls", crossed["snapshot_id"], expect=0).stdout)


NS = harness.NS


class RandomTrees(harness.TestCase):
    """reliability.md A1: random trees, backed up and restored, compared field by field."""

    ALPHABET = (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-+=,;:'\"\\"
                b"\n\t\x01\x7f\x80\xff\xc3\xa9\xe2\x82\xac")

    def random_name(self, rng, taken):
        while True:
            r = rng.random()
            if r < 0.05:
                n = bytes(rng.choice(self.ALPHABET) for _ in range(255))
            elif r < 0.15:
                n = "\u65e5\u672c-\u00fc-\U0001F600".encode() + bytes([rng.randrange(1, 256)])
            else:
                n = bytes(rng.choice(self.ALPHABET) for _ in range(rng.randrange(1, 24)))
            n = n.replace(b"/", b"_").replace(b"\0", b"_")[:255]
            if n in (b".", b"..") or n in taken:
                continue
            taken.add(n)
            return n

    def random_size(self, rng):
        r = rng.random()
        if r < 0.10:
            return 0
        if r < 0.15:
            return 1
        if r < 0.70:
            return rng.randrange(2, 8192)
        if r < 0.88:
            return rng.randrange(8192, 300_000)
        if r < 0.96:
            return harness.CHUNK_MIN + rng.choice([-1, 0, 1, 64, 4096])
        return rng.randrange(1 << 20, 3 << 20)

    def build(self, root, rng):
        os.mkdir(root)
        files = []
        counts = {"file": 0, "dir": 0, "symlink": 0, "hardlink": 0, "fifo": 0, "sparse": 0,
                  "dev": 0}

        def fill(d, depth):
            taken = set()
            n = rng.randrange(6, 16) if depth == 0 else rng.randrange(0, 10 if depth < 4 else 4)
            for _ in range(n):
                name = self.random_name(rng, taken)
                p = os.path.join(d, name)
                r = rng.random()
                if r < 0.55 or (r < 0.62 and not files):
                    harness.write_file(p, harness.pseudo_random_bytes(rng, self.random_size(rng))
                                       if rng.random() < 0.8 else
                                       bytes(self.random_size(rng)))
                    files.append(p)
                    counts["file"] += 1
                elif r < 0.62:
                    os.link(rng.choice(files), p)
                    counts["hardlink"] += 1
                elif r < 0.75 and depth < 5:
                    os.mkdir(p)
                    counts["dir"] += 1
                    fill(p, depth + 1)
                    if rng.random() < 0.1:
                        os.chmod(p, rng.choice([0o700, 0o755, 0o1777, 0o2750, 0o500]))
                elif r < 0.87:
                    target = rng.choice([b"../x", b"/abs/path", self.random_name(rng, set()),
                                         b"a" * 1000, b"\xff\xfe"])
                    os.symlink(target, p)
                    counts["symlink"] += 1
                elif r < 0.92:
                    os.mkfifo(p, rng.choice([0o600, 0o644]))
                    counts["fifo"] += 1
                elif r < 0.95:
                    size = rng.randrange(1 << 20, 6 << 20)
                    blocks = [(rng.randrange(0, size - 100) & ~4095,
                               harness.pseudo_random_bytes(rng, rng.randrange(1, 9000)))
                              for _ in range(rng.randrange(0, 3))]
                    harness.write_sparse(p, size, blocks)
                    files.append(p)
                    counts["sparse"] += 1
                else:
                    if rng.random() < 0.5:
                        os.mknod(p, stat.S_IFCHR | 0o600,
                                 os.makedev(rng.randrange(1, 300), rng.randrange(0, 300)))
                    else:
                        os.mknod(p, stat.S_IFBLK | 0o600,
                                 os.makedev(rng.randrange(1, 300), rng.randrange(0, 300)))
                    counts["dev"] += 1
                st = os.lstat(p)
                if not stat.S_ISLNK(st.st_mode) and not stat.S_ISDIR(st.st_mode) \
                        and rng.random() < 0.2:
                    os.chmod(p, rng.choice([0o4755, 0o2711, 0o1600, 0o000, 0o777, 0o640]))
                if rng.random() < 0.15 and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                    harness.set_xattr(p, "user.r%d" % rng.randrange(100),
                                      harness.pseudo_random_bytes(rng, rng.randrange(0, 300)))
                if rng.random() < 0.15:
                    os.chown(p, rng.randrange(0, 70000), rng.randrange(0, 70000),
                             follow_symlinks=False)

        fill(root, 0)
        overrides = {}
        for p in harness.walk_paths(root):
            if rng.random() < 0.05:
                overrides[p] = rng.choice([1, 4102444800 * NS + 999999999,
                                           rng.randrange(0, 2**33) * NS + rng.randrange(NS)])
        harness.set_times_bottom_up(root, rng, overrides)
        return counts

    def test_random_trees(self):
        n = harness.OPTIONS.trees or 15
        rng, seed = harness.seeded_rng("RandomTrees")
        v = self.new_vault()
        totals = {}
        failures = []
        for i in range(n):
            tree_seed = rng.randrange(2**32)
            trng = random.Random(tree_seed)
            src = self.wd.sub(f"src{i}")
            counts = self.build(src, trng)
            for k, c in counts.items():
                totals[k] = totals.get(k, 0) + c
            # Back up the tree's contents ("." in it), restore into a new directory.
            r, s = v.backup(".", cwd=src)
            target = self.wd.sub(f"target{i}")
            rr = v.restore(s["snapshot_id"], target)
            if rr.rc != 0:
                failures.append(f"tree {i} (tree seed {tree_seed}): restore exit {rr.rc}: "
                                f"{rr.stderr.strip()[:2000]}")
                continue
            diffs = harness.compare_trees(src, target)
            if diffs:
                failures.append(f"tree {i} (tree seed {tree_seed}, run seed {seed}): "
                                f"{len(diffs)} differences:\n    " + "\n    ".join(diffs[:40]))
            harness.rmtree(target)
        harness.log(f"{n} random trees, entries: {totals}")
        self.assertGreater(totals.get("file", 0), n, "the generator made almost no files")
        self.assertEqual(failures, [], "\n".join(failures))


if __name__ == "__main__":
    harness.main()
