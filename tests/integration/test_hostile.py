#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Hostile snapshots (reliability.md G1, G2; issue: "Hostile snapshots (crafted through a test
API) write nothing outside the target").

Snapshots are written with tests/tools/craft_snapshot (the real Repository API, raw tree JSON)
and restored. For every case: nothing outside the target changes (the whole arena around it is
recorded before and after: names, types, contents, modes, mtimes, link counts), the invalid
entries are reported (non-zero exit, a message naming the entry) and their valid siblings are
restored.

Names that are legal on POSIX although hostile on Windows (backslashes, "C:\\x", "\\\\host\\share")
are a policy choice: they may be restored as one literal entry inside the target, or refused;
either way nothing may be created anywhere else.

  python3 tests/integration/test_hostile.py --backup-tool PATH --craft-snapshot PATH
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MTIME = "2024-01-02T03:04:05.123456789Z"
DIR_MODE = (1 << 31) | 0o755
LINK_MODE = (1 << 27) | 0o777


def go_quote(name):
    """strconv.Quote without the quotes (close enough to Go for the names used here)."""
    out = []
    i = 0
    while i < len(name):
        # Longest valid UTF-8 sequence at i.
        for n in (1, 2, 3, 4):
            try:
                ch = name[i:i + n].decode("utf-8")
                break
            except UnicodeDecodeError:
                ch = None
        if ch is None or (len(ch) == 1 and ord(ch) == 0xFFFD and name[i:i + 3] != b"\xef\xbf\xbd"):
            out.append("\\x%02x" % name[i])
            i += 1
            continue
        i += len(ch.encode())
        c = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[ch])
        elif c < 0x20 or c == 0x7F:
            out.append("\\x%02x" % c)
        elif ch.isprintable():
            out.append(ch)
        elif c < 0x10000:
            out.append("\\u%04x" % c)
        else:
            out.append("\\U%08x" % c)
    return "".join(out)


def jname(name):
    """The JSON text of a node name: Go-quoted, then JSON-encoded."""
    return json.dumps(go_quote(name))


def node(name_json, type_, **kw):
    """The JSON text of one node. `name_json` is the exact JSON text of the name member."""
    fields = {"type": type_, "mode": kw.pop("mode", 0o644), "mtime": MTIME, "atime": MTIME,
              "ctime": MTIME, "uid": 0, "gid": 0, "user": "root", "group": "root"}
    fields.update(kw)
    body = json.dumps(fields, separators=(",", ":"))[1:]
    return "{\"name\":" + name_json + "," + body


def file_node(name, blob, size, **kw):
    kw.setdefault("links", 1)
    return node(jname(name) if isinstance(name, bytes) else name, "file", size=size,
                content=[f"@blob:{blob}@"], **kw)


def dir_node(name, tree):
    return node(jname(name) if isinstance(name, bytes) else name, "dir", mode=DIR_MODE,
                content=None, subtree=f"@tree:{tree}@")


def link_node(name, target):
    return node(jname(name) if isinstance(name, bytes) else name, "symlink", mode=LINK_MODE,
                linktarget=target, content=None)


def go_unquote(q):
    """The raw bytes of a Go-quoted name (the inverse of go_quote), for sorting."""
    out = bytearray()
    i = 0
    simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
    while i < len(q):
        c = q[i]
        if c != "\\" or i + 1 >= len(q):
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        e = q[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == "x":
            out.append(int(q[i + 2:i + 4], 16))
            i += 4
        elif e == "u":
            out += chr(int(q[i + 2:i + 6], 16)).encode()
            i += 6
        elif e == "U":
            out += chr(int(q[i + 2:i + 10], 16)).encode()
            i += 10
        else:
            out += c.encode()
            i += 1
    return bytes(out)


def node_name(text):
    return go_unquote(json.loads("[" + text + "]")[0]["name"])


def tree(*nodes, sort=True):
    """A tree blob's text; nodes sorted by their raw names unless sort=False."""
    if sort:
        nodes = sorted(nodes, key=node_name)
    return "{\"nodes\":[" + ",".join(nodes) + "]}\n"


GOOD = b"good sibling\n"
EVIL = b"EVIL CONTENT: written by a hostile snapshot\n"
PWNED = b"PWNED\n"


class Hostile(harness.TestCase):
    def setUp(self):
        super().setUp()
        if not harness.OPTIONS.craft_snapshot:
            self.skipTest("needs --craft-snapshot")
        self.vault = self.new_vault()
        # The arena: everything a restore could reach by escaping its target.
        self.arena = self.wd.mkdir("arena")
        self.outside = os.path.join(self.arena, b"outside")
        os.makedirs(os.path.join(self.outside, b"dir"))
        harness.write_file(os.path.join(self.outside, b"victim"), b"victim, must not change\n")
        harness.write_file(os.path.join(self.outside, b"dir", b"inner"), b"inner victim\n")
        self.n = 0

    def craft(self, trees, root="root", extra_blobs=None):
        """Writes a snapshot from a list of (label, tree text); returns its ID."""
        blobs = {"good": {"text": GOOD.decode()}, "evil": {"text": EVIL.decode()},
                 "pwned": {"text": PWNED.decode()}}
        blobs.update(extra_blobs or {})
        spec = {"blobs": blobs,
                "trees": [{"label": l, "json": t} for l, t in trees],
                "snapshot": json.dumps({"time": "2024-01-02T03:04:05Z", "tree": f"@tree:{root}@",
                                        "paths": ["/crafted"], "hostname": "crafted",
                                        "username": "root"}, separators=(",", ":"))}
        self.n += 1
        p = os.path.join(self.wd.path, b"spec%d.json" % self.n)
        with open(p, "w") as f:
            json.dump(spec, f)
        r = harness.run([harness.OPTIONS.craft_snapshot, os.fsdecode(p)], env=self.vault.env)
        self.assertExit(r, 0, "craft_snapshot failed")
        return r.stdout.splitlines()[0]

    def good_nodes(self):
        """Valid siblings: good.txt and gooddir/inner.txt."""
        return [file_node(b"good.txt", "good", len(GOOD)), dir_node(b"gooddir", "gooddir")]

    def good_tree(self):
        return ("gooddir", tree(file_node(b"inner.txt", "good", len(GOOD))))

    def target(self, name):
        t = os.path.join(self.arena, b"targets", name.encode(), b"target")
        os.makedirs(t)
        return t

    def outside_state(self, target):
        """Everything in the arena except the target itself."""
        rel = os.path.relpath(target, self.arena)
        state = harness.tree_snapshot(self.arena, skip={rel})
        return {p: v for p, v in state.items() if not (p == rel or p.startswith(rel + b"/"))}

    def restore(self, snap, target, *extra):
        before = self.outside_state(target)
        absent_before = {p: os.path.lexists(p) for p in self.absolute_canaries}
        r = self.vault.restore(snap, target, *extra)
        after = self.outside_state(target)
        diffs = harness.diff_tree_snapshots(before, after)
        self.assertEqual(diffs, [], "the restore changed things outside its target:\n"
                         + "\n".join(diffs) + "\n" + r.describe())
        for p, existed in absent_before.items():
            self.assertEqual(os.path.lexists(p), existed, f"restore created {p!r}")
        return r

    absolute_canaries = [b"/etc/halley-hostile-x", b"/tmp/halley-hostile-x", b"/halley-x"]

    def assert_good_restored(self, target, r):
        for rel in (b"good.txt", b"gooddir/inner.txt"):
            p = os.path.join(target, rel)
            self.assertTrue(os.path.isfile(p) and not os.path.islink(p),
                            f"valid sibling {rel!r} was not restored\n{r.describe()}")
            self.assertEqual(harness.read_file(p), GOOD)

    def assert_reported(self, r, *mentions):
        self.assertNotEqual(r.rc, 0, "a restore with invalid entries exited 0\n" + r.describe())
        for m in mentions:
            self.assertIn(m, r.stderr, f"the message does not name {m!r}\n{r.describe()}")

    def no_evil_anywhere(self, root):
        """No file beneath root holds the hostile content."""
        for p, e in harness.scan_tree(root).items():
            if e["type"] == "file":
                self.assertNotIn(harness.read_file(os.path.join(root, p)), (EVIL, PWNED),
                                 f"hostile content written to {p!r}")

    # ------------------------------------------------------------------------------------------
    # G1: names

    def check_names(self, case, names, mentions, hostile_dir=False):
        """A root tree with the valid siblings and `names` (bytes or raw JSON name text) as files
        (or as directories holding a file "x" with hostile content)."""
        trees = [self.good_tree(), ("payload", tree(file_node(b"x", "evil", len(EVIL))))]
        nodes = self.good_nodes()
        for n in names:
            nodes.append(dir_node(n, "payload") if hostile_dir else
                         file_node(n, "evil", len(EVIL)))
        trees.append(("root", tree(*nodes)))
        snap = self.craft(trees)
        t = self.target(case)
        r = self.restore(snap, t)
        self.assert_reported(r, *mentions)
        self.assert_good_restored(t, r)
        self.no_evil_anywhere(t)
        return t, r

    # tree() sorts the nodes by their raw names, so these trees are valid restic trees apart
    # from the hostile names themselves.

    def test_dotdot_file(self):
        t, r = self.check_names("dotdot-file", [b"zz/../../x"], ["zz/../../x"])
        # and the classic ones, each on its own (".." sorts before "good.txt").
        for i, name in enumerate([b"..", b"../../x", b"/etc/halley-hostile-x", b"a/b"]):
            snap = self.craft([self.good_tree(),
                               ("root", tree(file_node(name, "evil", len(EVIL)),
                                             *self.good_nodes()))])
            t = self.target(f"name-{i}")
            r = self.restore(snap, t)
            self.assert_reported(r, go_quote(name))
            self.assert_good_restored(t, r)
            self.no_evil_anywhere(os.path.dirname(os.path.dirname(t)))

    def test_dotdot_directory(self):
        """A directory named ".." (or "."), whose file would land in the target's parent (or the
        target itself)."""
        for i, name in enumerate([b"..", b"."]):
            trees = [self.good_tree(), ("payload", tree(file_node(b"x", "evil", len(EVIL))))]
            nodes = [dir_node(name, "payload")] + self.good_nodes()
            trees.append(("root", tree(*nodes)))
            snap = self.craft(trees)
            t = self.target(f"dir-{i}")
            r = self.restore(snap, t)
            self.assert_reported(r, "/" + name.decode())
            self.assert_good_restored(t, r)
            self.assertFalse(os.path.lexists(os.path.join(os.path.dirname(t), b"x")))
            self.assertFalse(os.path.lexists(os.path.join(t, b"x")))

    def test_slash_and_absolute_directory_names(self):
        self.check_names("slash-dirs", [b"sub/../../../..", b"zz/x"], ["sub/../../../..", "zz/x"],
                         hostile_dir=True)

    def test_nul_in_name(self):
        # As Go writes it (\x00 inside the quoted name) ...
        self.check_names("nul-go", [b"nul\x00name"], ["nul\\x00name"])

    def test_nul_raw_json(self):
        # ... and as a raw JSON \u0000, which a Go-quote decoder may reject for the whole tree:
        # then the tree's directory is reported and the rest still restored.
        trees = [self.good_tree(),
                 ("sub", tree(file_node('"nul\\u0000raw"', "evil", len(EVIL)))),
                 ]
        trees.append(("root", tree(*(self.good_nodes() + [dir_node(b"sub", "sub")]))))
        snap = self.craft(trees)
        t = self.target("nul-raw")
        r = self.restore(snap, t)
        self.assert_reported(r, "sub")
        self.assert_good_restored(t, r)
        self.no_evil_anywhere(t)

    def test_empty_name(self):
        trees = [self.good_tree(),
                 ("sub", tree(file_node('""', "evil", len(EVIL)),
                              file_node(b"zz", "good", len(GOOD)), sort=False))]
        trees.append(("root", tree(*(self.good_nodes() + [dir_node(b"sub", "sub")]))))
        snap = self.craft(trees)
        t = self.target("empty")
        r = self.restore(snap, t)
        self.assert_reported(r, "sub")
        self.assert_good_restored(t, r)
        self.no_evil_anywhere(t)

    def test_4096_byte_name(self):
        name = b"L" * 4096
        t, r = self.check_names("long", [name], [go_quote(name)[:100]])
        self.assertEqual(sorted(os.listdir(t)), [b"good.txt", b"gooddir"])

    def test_backslash_and_drive_names(self):
        """POSIX-legal but hostile elsewhere: restored literally as one entry inside the target,
        or refused; never split at the backslashes."""
        names = [b"hbs\\..\\..\\x", b"C:\\x", b"\\\\host\\share", b"\\x"]
        trees = [self.good_tree(), ("payload", tree(file_node(b"x", "evil", len(EVIL))))]
        nodes = self.good_nodes() + [file_node(n, "evil", len(EVIL)) for n in names]
        trees.append(("root", tree(*nodes)))
        snap = self.craft(trees)
        t = self.target("backslash")
        r = self.restore(snap, t)
        self.assert_good_restored(t, r)
        self.assertLessEqual(set(os.listdir(t)), set(names) | {b"good.txt", b"gooddir"},
                             "a backslash name was split into several entries")
        for n in names:
            p = os.path.join(t, n)
            if os.path.lexists(p):
                self.assertEqual(harness.read_file(p), EVIL)  # restored literally
            else:
                self.assert_reported(r, go_quote(n))

    def test_very_deep_snapshot(self):
        """20 000 nested directories (each tree blob distinct): the restore must not crash (a
        stack overflow is a denial of service by a hostile snapshot) and must finish in
        reasonable time, restoring the tree or refusing it with an error, and write nothing
        outside."""
        depth = 20000
        trees = [("t0", tree(file_node(b"bottom", "good", len(GOOD))))]
        for i in range(1, depth):
            trees.append((f"t{i}", tree(dir_node(b"d", f"t{i - 1}"))))
        trees.append(self.good_tree())
        trees.append(("root", tree(*(self.good_nodes() + [dir_node(b"deep", f"t{depth - 1}")]))))
        snap = self.craft(trees)
        t = self.target("deep")
        before = self.outside_state(t)
        r = harness.run(self.vault.bt_argv("restore", snap, "--target", t), env=self.vault.env,
                        timeout=120)
        self.assertGreaterEqual(r.rc, 0, f"restore of a {depth}-deep snapshot was killed by "
                                f"signal {-r.rc}\n{r.describe()}")
        self.assertEqual(harness.diff_tree_snapshots(before, self.outside_state(t)), [])
        self.assert_good_restored(t, r)
        if r.rc != 0:
            self.assertIn("deep", r.stderr)

    # ------------------------------------------------------------------------------------------
    # Duplicates and links (G2)

    def test_duplicate_names_symlink_and_directory(self):
        """`d -> OUTSIDE` next to a directory `d` holding a file: in both orders, and with the
        second `d` spelled as a Go escape ("\\x64")."""
        variants = {
            "link-first": [link_node(b"d", os.fsdecode(self.outside)), dir_node(b"d", "payload")],
            "dir-first": [dir_node(b"d", "payload"), link_node(b"d", os.fsdecode(self.outside))],
            "escaped": [link_node(b"d", os.fsdecode(self.outside)),
                        dir_node('"\\\\x64"', "payload")],
        }
        for case, dup_nodes in variants.items():
            trees = [self.good_tree(), ("payload", tree(file_node(b"f", "pwned", len(PWNED)))),
                     ("dup", tree(*dup_nodes, sort=False))]
            trees.append(("root", tree(*(self.good_nodes() + [dir_node(b"zdup", "dup")]))))
            snap = self.craft(trees)
            t = self.target("dup-" + case)
            r = self.restore(snap, t)
            self.assert_reported(r, "zdup")
            self.assert_good_restored(t, r)
            self.assertFalse(os.path.lexists(os.path.join(self.outside, b"f")))

    def test_symlink_then_directory_of_same_name_in_later_snapshot(self):
        """Snapshot A has `s -> OUTSIDE` (absolute); snapshot B has a directory `s` with a file.
        Restoring A then B into the same target must not write through the link."""
        snap_a = self.craft([self.good_tree(),
                             ("root", tree(*(self.good_nodes() +
                                             [link_node(b"s", os.fsdecode(self.outside))])))])
        snap_b = self.craft([self.good_tree(),
                             ("payload", tree(file_node(b"f", "pwned", len(PWNED)))),
                             ("root", tree(*(self.good_nodes() + [dir_node(b"s", "payload")])))])
        # SNAPSHOT:PATH through the link must not reach OUTSIDE either.
        t = self.target("through-link")
        r = self.restore(f"{snap_a}:/s/victim", t)
        self.assertNotEqual(r.rc, 0, "a path through a symlink in the snapshot was restored")
        self.assertEqual(os.listdir(t), [])
        for mode in ("always", "never", "if-newer", "if-different"):
            t = self.target("later-" + mode)
            r = self.restore(snap_a, t)
            self.assertExit(r, 0)
            self.assertEqual(os.readlink(os.path.join(t, b"s")), self.outside,
                             "the symlink itself must be restored as a link")
            r = self.restore(snap_b, t, "--overwrite", mode)
            self.assertFalse(os.path.lexists(os.path.join(self.outside, b"f")))
            s = os.path.join(t, b"s")
            if os.path.islink(s):
                self.assertNotEqual(r.rc, 0, f"--overwrite {mode}: directory s not restored "
                                    f"and no error\n{r.describe()}")
            else:
                self.assertEqual(harness.read_file(os.path.join(s, b"f")), PWNED)

    def test_symlink_and_directory_in_different_directories(self):
        """`sub/a -> OUTSIDE` and a directory `sub2/a` with a file: both valid, kept apart (the
        restorer must not reuse a descriptor or path of one for the other)."""
        trees = [self.good_tree(),
                 ("payload", tree(file_node(b"f", "pwned", len(PWNED)))),
                 ("sub", tree(link_node(b"a", os.fsdecode(self.outside)))),
                 ("sub2", tree(dir_node(b"a", "payload"))),
                 ("root", tree(*(self.good_nodes() + [dir_node(b"sub", "sub"),
                                                      dir_node(b"sub2", "sub2")])))]
        snap = self.craft(trees)
        t = self.target("nested-link")
        r = self.restore(snap, t)
        self.assertExit(r, 0)
        self.assertTrue(os.path.islink(os.path.join(t, b"sub", b"a")))
        self.assertEqual(harness.read_file(os.path.join(t, b"sub2", b"a", b"f")), PWNED)

    def test_preexisting_symlink_replaced_by_regular_file(self):
        """The target holds `x -> OUTSIDE/victim`; the snapshot has a regular file `x`: the
        victim stays unchanged and x becomes a regular file (or is kept as the link with
        --overwrite never)."""
        victim = os.path.join(self.outside, b"victim")
        snap = self.craft([self.good_tree(),
                           ("root", tree(*(self.good_nodes() +
                                           [file_node(b"x", "pwned", len(PWNED))])))])
        for mode in ("always", "if-newer", "if-different", "never"):
            t = self.target("planted-" + mode)
            os.symlink(victim, os.path.join(t, b"x"))
            harness.set_mtime(os.path.join(t, b"x"), 1_000_000_000 * harness.NS)
            r = self.restore(snap, t, "--overwrite", mode)
            self.assertExit(r, 0, f"--overwrite {mode}")
            x = os.path.join(t, b"x")
            if mode == "never":
                self.assertEqual(os.readlink(x), victim)
            else:
                self.assertFalse(os.path.islink(x), f"--overwrite {mode}: x is still a link")
                self.assertEqual(harness.read_file(x), PWNED)
            self.assert_good_restored(t, r)

    def test_preexisting_hardlink_replaced_by_regular_file(self):
        """The target holds `x`, a hardlink to OUTSIDE/victim; the snapshot has a regular file
        `x`. Writing the new contents into the existing inode would change the victim: the
        restore must replace the name instead."""
        victim = os.path.join(self.outside, b"victim")
        before = (harness.read_file(victim), os.lstat(victim).st_mtime_ns)
        snap = self.craft([self.good_tree(),
                           ("root", tree(*(self.good_nodes() +
                                           [file_node(b"x", "pwned", len(PWNED))])))])
        for mode in ("always", "if-different", "never"):
            t = self.target("hardplant-" + mode)
            x = os.path.join(t, b"x")
            os.link(victim, x)
            r = self.vault.restore(snap, t, "--overwrite", mode)
            self.assertExit(r, 0, f"--overwrite {mode}")
            self.assertEqual((harness.read_file(victim), os.lstat(victim).st_mtime_ns), before,
                             f"--overwrite {mode}: the victim changed through a hardlink")
            if mode == "never":
                self.assertEqual(os.lstat(x).st_ino, os.lstat(victim).st_ino)
            else:
                self.assertNotEqual(os.lstat(x).st_ino, os.lstat(victim).st_ino)
                self.assertEqual(harness.read_file(x), PWNED)
            os.unlink(x)

    def test_preexisting_directory_symlink(self):
        """The target holds `d -> OUTSIDE`; the snapshot has a directory `d` with files (and a
        subdirectory `dir` whose name exists in OUTSIDE too)."""
        trees = [self.good_tree(),
                 ("inner", tree(file_node(b"inner", "pwned", len(PWNED)))),
                 ("d", tree(dir_node(b"dir", "inner"), file_node(b"f", "pwned", len(PWNED)),
                            file_node(b"victim", "pwned", len(PWNED)))),
                 ("root", tree(*([dir_node(b"d", "d")] + self.good_nodes())))]
        snap = self.craft(trees)
        for mode in ("always", "never"):
            t = self.target("dirlink-" + mode)
            os.symlink(self.outside, os.path.join(t, b"d"))
            r = self.restore(snap, t, "--overwrite", mode)
            self.assert_good_restored(t, r)
            d = os.path.join(t, b"d")
            if mode == "always":
                self.assertExit(r, 0)
                self.assertFalse(os.path.islink(d))
                self.assertEqual(harness.read_file(os.path.join(d, b"victim")), PWNED)
                self.assertEqual(harness.read_file(os.path.join(d, b"dir", b"inner")), PWNED)
            else:
                self.assert_reported(r, "/d")
                self.assertEqual(os.readlink(d), self.outside)

    def test_hardlink_claiming_outside_inode(self):
        """Two file nodes claim (device, inode) of OUTSIDE/victim with links=2: they are linked
        to each other inside the target, never to the victim."""
        st = os.lstat(os.path.join(self.outside, b"victim"))
        kw = dict(links=2, inode=st.st_ino, device_id=st.st_dev)
        snap = self.craft([self.good_tree(),
                           ("root", tree(*(self.good_nodes() +
                                           [file_node(b"h1", "pwned", len(PWNED), **kw),
                                            file_node(b"h2", "pwned", len(PWNED), **kw)])))])
        t = self.target("hardlink")
        r = self.restore(snap, t)
        self.assertExit(r, 0)
        a, b = os.lstat(os.path.join(t, b"h1")), os.lstat(os.path.join(t, b"h2"))
        self.assertEqual((a.st_ino, a.st_nlink), (b.st_ino, 2))
        self.assertNotEqual(a.st_ino, st.st_ino)
        self.assertEqual(os.lstat(os.path.join(self.outside, b"victim")).st_nlink, 1)

    def test_hardlink_to_planted_link_when_first_fails(self):
        """The target holds `h1`, a hardlink to OUTSIDE/victim (same file system). The snapshot's
        `h1` cannot be restored (its blob is missing) and `h2` claims the same inode: h2 must not
        become another name of the victim."""
        victim = os.path.join(self.outside, b"victim")
        st = os.lstat(victim)
        t = self.target("hardlink-planted")
        kw = dict(links=2, inode=4242, device_id=77)
        missing_blob = "0" * 64
        h1 = node(jname(b"h1"), "file", size=5, content=[missing_blob], **kw)
        h2 = file_node(b"h2", "pwned", len(PWNED), **kw)
        snap = self.craft([self.good_tree(), ("root", tree(*(self.good_nodes() + [h1, h2])))])
        os.link(victim, os.path.join(t, b"h1"))
        before_nlink = os.lstat(victim).st_nlink  # 2: the victim and the planted h1
        r = self.vault.restore(snap, t)
        self.assert_reported(r, "h1")
        self.assert_good_restored(t, r)
        self.assertEqual(harness.read_file(victim), b"victim, must not change\n")
        h2p = os.path.join(t, b"h2")
        if os.path.lexists(h2p):
            self.assertNotEqual(os.lstat(h2p).st_ino, st.st_ino,
                                "h2 was hardlinked to the planted link of the victim: the "
                                "restore gave an outside inode a new name in the target")
        self.assertEqual(os.lstat(victim).st_nlink, before_nlink)


if __name__ == "__main__":
    harness.main()
