#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`backup-tool check` on damaged vaults (reliability.md C1 and C2; the spec's "Data validation",
"Recovering from file corruption" and "Missing files from Storage Vault").

  * Fault injection: a vault of several snapshots that share data; each trial copies it, flips
    one random bit in one random file (a data pack, a tree pack, an index file, a snapshot or
    the key file), runs `check --read-data --json` and requires a non-zero exit naming the
    damaged file, and for packs and snapshots exactly the snapshots that can no longer be
    restored. Which snapshots those are is found independently: by restoring every snapshot
    of the damaged copy. Debian's restic 0.14 (`check --read-data`) must flag the same packs.
    100 % detection over --runs trials (default 50); --seed replays a run.
  * A deleted data pack: `<snapshot/ID> depends on missing [...]` for every snapshot whose
    restore fails, and for no other; restic's `check` names the same pack.
  * --read-data-subset n/t finds a damaged pack in exactly one group; --deep finds damage in
    tree packs and pack headers without reading the data.
  Transient read faults cannot be injected from here; the unit test checker_test.cc covers
  them (FaultyBlobStore::SetGetBitFlips).

  python3 tests/integration/test_check.py --backup-tool PATH [--seed N] [--runs N]
"""

import json
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HEX64 = re.compile(r"[0-9a-f]{64}")
KINDS = ["data pack", "tree pack", "index", "snapshot", "key"]


class Layout:
    """The files of a vault: data packs, tree packs (from the index), index files, snapshots,
    keys. Paths are relative to the vault (str)."""

    def __init__(self, vault):
        root = os.fsdecode(vault.path)

        def names(kind):
            return sorted(os.path.relpath(os.fsdecode(p), root) for p in vault.files(kind))

        self.packs = names("data")
        self.index = names("index")
        self.snapshots = names("snapshots")
        self.keys = names("keys")
        tree_ids = set()
        self.blobs = {}  # pack id -> list of (type, offset, length)
        for rel in self.index:
            r = vault.bt("cat", "index", os.path.basename(rel), expect=0)
            for p in json.loads(r.stdout)["packs"]:
                self.blobs[p["id"]] = [(b["type"], b["offset"], b["length"]) for b in p["blobs"]]
                if any(b["type"] == "tree" for b in p["blobs"]):
                    tree_ids.add(p["id"])
        self.tree_packs = [p for p in self.packs if os.path.basename(p) in tree_ids]
        self.data_packs = [p for p in self.packs if os.path.basename(p) not in tree_ids]

    def of_kind(self, kind):
        return {"data pack": self.data_packs, "tree pack": self.tree_packs, "index": self.index,
                "snapshot": self.snapshots, "key": self.keys}[kind]


def copy_vault(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return harness.Vault(dst, os.path.dirname(dst))


def check_json(v, *args):
    """Runs `backup-tool --json check ARGS`; returns (Run, summary, error messages)."""
    r = v.bt("--json", "check", *args)
    summary = None
    for j in r.json_lines("out"):
        if isinstance(j, dict) and j.get("message_type") == "summary":
            summary = j
    errors = [j["message"] for j in r.json_lines("err")
              if isinstance(j, dict) and j.get("message_type") in ("error", "exit_error")]
    return r, summary, errors


def restic_flagged_packs(r):
    """Pack IDs that restic's check output reports as damaged (orphans are not)."""
    out = set()
    for line in (r.stdout + "\n" + r.stderr).splitlines():
        if "not referenced in any index" in line:
            continue
        m = re.search(r"Pack ID does not match, want ([0-9a-f]{64})", line)
        if m:
            out.add(m.group(1))
            continue
        for m in re.finditer(r"pack ([0-9a-f]{64})", line):
            out.add(m.group(1))
    return out


def unrestorable(v, snapshots, wd, tag):
    """The snapshots of `v` whose restore fails: the independent answer to "which snapshots
    depend on the damage"."""
    bad = set()
    for s in snapshots:
        target = wd.sub(f"restore-{tag}-{s[:8]}")
        r = v.bt("restore", s, "--target", target)
        if r.rc != 0:
            bad.add(s)
        harness.rmtree(target)
    return bad


@unittest.skipUnless(harness.find_restic(), "restic is not installed")
class CheckTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        """One vault for all tests (each works on a copy): four snapshots over three source
        directories, some sharing files, several data packs and one tree pack per backup."""
        cls.base = harness.Workdir("check-base")
        rng, _ = harness.seeded_rng("CheckTest.setUpClass")
        src = cls.base.mkdir("src")
        j = lambda *p: os.path.join(src, *[os.fsencode(x) for x in p])  # noqa: E731
        for d in ("common", "a", "b", "c"):
            os.mkdir(j(d))
        for i in range(3):
            harness.write_file(j("common", f"shared{i}"), harness.pseudo_random_bytes(rng, 700_000 + i))
        harness.write_file(j("common", "small"), b"small shared file\n")
        harness.write_file(j("a", "a1"), harness.pseudo_random_bytes(rng, 900_000))
        harness.write_file(j("b", "b1"), harness.pseudo_random_bytes(rng, 800_000))
        harness.write_file(j("c", "c1"), harness.pseudo_random_bytes(rng, 300_000))
        cls.vault = harness.Vault(cls.base.sub("vault"), cls.base.path)
        cls.vault.init()
        snaps = []
        _, s = cls.vault.backup(j("common"), j("a"))
        snaps.append(s["snapshot_id"])
        _, s = cls.vault.backup(j("common"), j("b"))
        snaps.append(s["snapshot_id"])
        harness.write_file(j("a", "a2"), harness.pseudo_random_bytes(rng, 600_000))
        _, s = cls.vault.backup(j("a"))
        snaps.append(s["snapshot_id"])
        _, s = cls.vault.backup(j("c"))
        snaps.append(s["snapshot_id"])
        cls.snapshots = snaps
        cls.layout = Layout(cls.vault)
        assert len(cls.layout.keys) == 1, cls.layout.keys
        assert len(cls.layout.tree_packs) >= 2 and len(cls.layout.data_packs) >= 4, \
            (cls.layout.tree_packs, cls.layout.data_packs)

    @classmethod
    def tearDownClass(cls):
        cls.base.close()

    def damaged_copy(self, name):
        return copy_vault(os.fsdecode(self.vault.path), os.fsdecode(self.wd.sub(name)))

    def test_a_clean_vault(self):
        v = self.damaged_copy("clean")
        r = v.bt("check", "--read-data", expect=0)
        for line in ("load indexes", "check all packs", "check snapshots, trees and blobs",
                     "read all data", "no errors were found"):
            self.assertIn(line, r.stdout.splitlines(), r.describe())
        self.assertRegex(r.stdout, r"\[\d+:\d\d\] 100\.00%  4 / 4 snapshots")
        self.assertIn("using temporary cache in ", r.stdout)
        r, summary, errors = check_json(v, "--deep")
        self.assertExit(r, 0)
        self.assertEqual(summary["num_errors"], 0, r.describe())
        self.assertEqual(summary["broken_packs"], [])
        self.assertEqual(summary["damaged_snapshots"], [])
        v.restic_check(read_data=True)
        self.assertEqual(unrestorable(v, self.snapshots, self.wd, "clean"), set())

    def test_b_fault_injection(self):
        rng, seed = harness.seeded_rng("test_b_fault_injection")
        runs = harness.OPTIONS.runs or 50
        layout = self.layout
        detected = 0
        t0 = time.monotonic()
        for trial in range(runs):
            kind = KINDS[trial % len(KINDS)] if trial < len(KINDS) else rng.choice(KINDS)
            rel = rng.choice(layout.of_kind(kind))
            v = self.damaged_copy(f"trial{trial}")
            path = os.path.join(os.fsdecode(v.path), rel)
            bit = rng.randrange(os.path.getsize(path) * 8)
            harness.flip_bit(path, bit)
            name = os.path.basename(rel)
            what = f"trial {trial} (seed {seed}): bit {bit} of {kind} {rel}"
            r, summary, errors = check_json(v, "--read-data")
            self.assertNotEqual(r.rc, 0, f"{what}: not detected\n{r.describe()}")
            text = r.stdout + r.stderr
            if kind == "key":
                self.assertIn(f"keys/{name}", text, f"{what}\n{r.describe()}")
                detected += 1
                harness.rmtree(v.path)
                continue
            self.assertIsNotNone(summary, f"{what}\n{r.describe()}")
            self.assertIn(rel, summary["damaged_files"], f"{what}\n{r.describe()}")
            if kind in ("data pack", "tree pack"):
                self.assertEqual(summary["broken_packs"], [name], f"{what}\n{r.describe()}")
                expected = unrestorable(v, self.snapshots, self.wd, f"t{trial}")
                self.assertEqual(set(summary["damaged_snapshots"]), expected,
                                 f"{what}\n{r.describe()}")
                for s in expected:
                    self.assertTrue(any(f"<snapshot/{s[:8]}> depends on missing [" in e
                                        for e in errors), f"{what}: {s[:8]}\n{r.describe()}")
            elif kind == "index":
                self.assertEqual(summary["broken_packs"], [], f"{what}\n{r.describe()}")
                self.assertEqual(summary["damaged_snapshots"], [], f"{what}\n{r.describe()}")
                self.assertTrue(any(f"error loading index {name}" in e for e in errors), what)
                self.assertTrue(summary["suggest_repair_index"])
            else:  # snapshot
                self.assertEqual(summary["broken_packs"], [], f"{what}\n{r.describe()}")
                self.assertEqual(summary["damaged_snapshots"], [name], f"{what}\n{r.describe()}")
                expected = unrestorable(v, self.snapshots, self.wd, f"t{trial}")
                self.assertEqual(expected, {name}, what)
            # restic flags the same packs (none for index and snapshot files).
            rr = v.restic("check", "--read-data")
            self.assertNotEqual(rr.rc, 0, f"{what}: restic found nothing\n{rr.describe()}")
            self.assertEqual(restic_flagged_packs(rr), set(summary["broken_packs"]),
                             f"{what}\n{rr.describe()}\n{r.describe()}")
            detected += 1
            harness.rmtree(v.path)
        harness.log(f"{detected}/{runs} damaged files detected in {time.monotonic() - t0:.1f}s")
        self.assertEqual(detected, runs)

    def test_c_deleted_pack(self):
        # Every data pack in turn (there are a handful): the snapshots that depend on it are
        # exactly those that no longer restore.
        layout = self.layout
        some_partial = False
        for i, rel in enumerate(layout.data_packs):
            v = self.damaged_copy(f"deleted{i}")
            os.unlink(os.path.join(os.fsdecode(v.path), rel))
            name = os.path.basename(rel)
            r, summary, errors = check_json(v)
            self.assertExit(r, 1)
            expected = unrestorable(v, self.snapshots, self.wd, f"d{i}")
            some_partial = some_partial or 0 < len(expected) < len(self.snapshots)
            self.assertEqual(set(summary["damaged_snapshots"]), expected, r.describe())
            self.assertIn(f"pack {name}: does not exist", errors)
            depends = sorted(e for e in errors if "depends on missing" in e)
            self.assertEqual(depends, sorted(f"<snapshot/{s[:8]}> depends on missing [{name[:8]}]"
                                             for s in expected), r.describe())
            self.assertEqual(summary["broken_packs"], [name])
            # The text output lists them too, with the next steps.
            t = v.bt("check")
            self.assertExit(t, 1)
            self.assertIn("Fatal: repository contains errors", t.stderr)
            self.assertIn("Suggested next steps", t.stderr)
            for s in expected:
                self.assertIn(f"<snapshot/{s[:8]}> depends on missing", t.stderr)
            rr = v.restic("check")
            self.assertNotEqual(rr.rc, 0, rr.describe())
            self.assertEqual(restic_flagged_packs(rr), {name}, rr.describe())
            harness.rmtree(v.path)
        self.assertTrue(some_partial, "no pack was used by only some snapshots")

    def test_d_subsets_and_deep(self):
        layout = self.layout
        v = self.damaged_copy("subset")
        # A pack whose first blob is large enough that byte 100 lies inside it.
        rel = next(p for p in layout.data_packs
                   if min(layout.blobs[os.path.basename(p)], key=lambda b: b[1])[2] > 200)
        name = os.path.basename(rel)
        path = os.path.join(os.fsdecode(v.path), rel)
        harness.flip_bit(path, 8 * 100)
        found = 0
        for n in range(1, 5):
            r, summary, errors = check_json(v, "--read-data-subset", f"{n}/4")
            if summary["broken_packs"]:
                found += 1
                self.assertEqual(summary["broken_packs"], [name])
                self.assertExit(r, 1)
            else:
                self.assertExit(r, 0)
        self.assertEqual(found, 1)
        # The damage is inside a data blob: only reading the data finds it.
        r, summary, _ = check_json(v, "--deep")
        self.assertExit(r, 0)
        # A damaged header is found by --deep (ranged reads only).
        size = os.path.getsize(path)
        harness.flip_bit(path, 8 * (size - 20))
        r, summary, errors = check_json(v, "--deep")
        self.assertExit(r, 1)
        self.assertEqual(summary["broken_packs"], [name], r.describe())
        self.assertIn(rel, summary["damaged_files"])
        # A damaged tree pack is found by the plain check and by --deep.
        w = self.damaged_copy("deep-tree")
        tree_rel = layout.tree_packs[0]
        tpath = os.path.join(os.fsdecode(w.path), tree_rel)
        harness.flip_bit(tpath, 8 * 40)
        for args in ((), ("--deep",)):
            r, summary, errors = check_json(w, *args)
            self.assertExit(r, 1)
            self.assertEqual(summary["broken_packs"], [os.path.basename(tree_rel)], r.describe())
            self.assertTrue(any("couldn't load tree" in e for e in errors), r.describe())

    def test_e_usage(self):
        v = self.damaged_copy("usage")
        r = v.bt("check", "--read-data-subset", "0/5")
        self.assertExit(r, 1)
        self.assertIn("read-data-subset", r.stderr)
        r = v.bt("check", "--read-data", "--deep")
        self.assertNotEqual(r.rc, 0)
        # check takes the exclusive lock: another host's lock makes it fail with exit code 11...
        if not harness.OPTIONS.craft_snapshot:
            return
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
        lock = json.dumps({"time": now, "exclusive": False, "hostname": "other-host",
                           "username": "mallory", "pid": 4242}, separators=(",", ":"))
        spec = os.path.join(os.fsdecode(self.wd.path), "spec.json")
        with open(spec, "w") as f:
            json.dump({"locks": [lock]}, f)
        c = harness.run([harness.OPTIONS.craft_snapshot, spec], env=v.env)
        self.assertExit(c, 0)
        r = v.bt("check")
        self.assertExit(r, 11)
        # ...unless --no-lock, and check itself writes nothing into the vault.
        before = {p: os.path.getsize(p) for p in v.files("") if b"/locks/" not in p}
        r = v.bt("--no-lock", "check", "--read-data")
        self.assertExit(r, 0)
        after = {p: os.path.getsize(p) for p in v.files("") if b"/locks/" not in p}
        self.assertEqual(before, after)

if __name__ == "__main__":
    harness.main()
