#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Vault lifecycle: recovery from a damaged pack, prune killed at random points, concurrent
backups and the exclusive lock, and splitting a vault (the spec's "Recovering from file
corruption" and "Splitting a Storage Vault"; docs/integrity.md §3, §7 and §8 as written there).

  * test_recovering_from_file_corruption: the manual's walkthrough, literally. Four snapshots
    of one directory (1: A; 2: +B; 3: +C; 4: -B +D; each file 200-400 kB of random data, so
    each sits alone in its own data pack, which is checked against the index, not assumed).
    One bit in the middle of B's pack is flipped. Step 1: the manual's `find ... sha256sum ...
    | awk ...` command, run by sh in the vault, reports exactly that pack as MISMATCH; it is
    deleted. Step 2: `retention` exits 1 naming `<snapshot/ID> depends on missing [PACK]` for
    exactly snapshots 2 and 3 and changes nothing in the vault. Step 3: their files are removed
    from snapshots/ with rm, by the short IDs printed. Step 4: `retention` exits 0; then
    `check --read-data` exits 0, snapshots 1 and 4 restore bit-identical to copies of the source
    made at backup time, and the sha256 command reports no mismatch.
  * test_kill_during_prune: a vault of six snapshots whose files change from one to the next,
    three of them forgotten (the first among them, so `prune --max-unused 0` must repack). Each
    of --runs runs (default 20) copies that vault twice: on one copy an uninterrupted prune is
    timed, with the moments its progress lines appear; on the other a prune is SIGKILLed after
    a seeded random delay within that duration (a quarter anywhere, a quarter from the start
    of repacking, half in the last part: flush of the new packs, index swap, packindex
    rewrite, pack deletion). Then: `unlock` removes exactly the dead process's stale lock;
    every remaining snapshot restores exactly; `prune --max-unused 0` completes;
    `check --read-data` exits 0; every snapshot restores again; a further prune finds nothing
    to remove, repack or adopt; and, for each remaining snapshot in turn, a retention pass that
    forgets the other two (`forget --prune`, which trusts the packindex files to name every
    pack a snapshot needs and deletes the rest without walking trees) leaves it checkable and
    restorable. (That last step found packindex files that lost the packs an interrupted prune
    had repacked into.)
  * test_two_backups_at_once_and_prune_refused: two backups of different ~20 MiB trees into one
    vault at the same time both succeed and restore exactly. Then, while a ~240 MiB backup runs
    (its lock file is in locks/), `prune` exits 11 naming the backup's PID and host and deletes
    nothing; the backup succeeds and restores exactly, and prune then runs.
  * test_splitting_a_storage_vault: four snapshots; the vault is cloned with `cp -a`; the clone
    forgets snapshots 1-2 and the original 3-4 (`forget ID ID --prune`). Both pass
    `check --read-data`, restore their remaining snapshots exactly, no longer list the
    forgotten ones, and are smaller than the vault was, by at least the data only the forgotten
    snapshots held.

  python3 tests/integration/test_lifecycle.py --backup-tool PATH [--runs 20] [--seed N]
                                             [-k NAME]
"""

import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HEX64 = re.compile(rb"^[0-9a-f]{64}$")
DEPENDS = re.compile(r"<snapshot/([0-9a-f]{8})> depends on missing \[([^\]]*)\]")

# The manual's data validation command, exactly as printed there.
SHA256_COMMAND = r"""find . ! -name 'config' -type f -exec sha256sum '{}' \; | awk '{ sub("^.*/", "", $2) ; if ($1 == $2) { print $2,"ok" } else { print "[!!!]",$2,"MISMATCH",$1 } }'"""


def copy_vault(src, dst, workdir):
    shutil.copytree(src, dst, symlinks=True)
    return harness.Vault(dst, workdir)


def stored_names(vault, kind):
    """Names (str) of the stored objects of one kind: 64-hex file names only, so temporary
    files a killed process left are not counted."""
    return sorted(os.fsdecode(os.path.basename(p)) for p in vault.files(kind)
                  if HEX64.match(os.path.basename(p)))


def vault_state(vault, skip=(b"locks",)):
    """{relative path: sha256} of every file in the vault except under `skip`."""
    out = {}
    for p in vault.files(""):
        rel = os.path.relpath(p, vault.path)
        if rel.split(b"/")[0] in skip:
            continue
        out[rel] = harness.file_digest(p)
    return out


def vault_bytes(vault):
    return sum(os.path.getsize(p) for p in vault.files("")
               if os.path.relpath(p, vault.path).split(b"/")[0] != b"locks")


def pack_of_blob(vault):
    """{blob id: (pack id, [blob ids in that pack])} from every index file of the vault."""
    out = {}
    for name in stored_names(vault, "index"):
        r = vault.bt("cat", "index", name, expect=0)
        for p in json.loads(r.stdout)["packs"]:
            ids = [b["id"] for b in p["blobs"]]
            for b in ids:
                out[b] = (p["id"], ids)
    return out


def prune_summary(r):
    for j in r.json_lines():
        if isinstance(j, dict) and j.get("message_type") == "summary":
            return j
    raise AssertionError(f"prune printed no JSON summary\n{r.describe()}")


def backup_summary(out):
    for line in out.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("message_type") == "summary":
                return j
    return None


def rfc3339_seconds(text):
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds (for logging)."""
    m = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        raise AssertionError(f"not an RFC 3339 time: {text!r}")
    base = datetime.datetime.fromisoformat(m.group(1) + m.group(3).replace("Z", "+00:00"))
    return base.timestamp() + float("0." + (m.group(2) or "0"))


class Lifecycle(harness.TestCase):
    # ------------------------------------------------------------------------------------------
    # helpers

    def save_copy(self, src, name):
        """A copy of the source tree as it is now (cp -a keeps everything the comparer checks)."""
        dst = self.wd.sub("saved", name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        harness.copy_tree(src, dst)
        return dst

    def assertRestores(self, v, snap, src, expected, why):
        """Restores SNAP:src and compares it with the tree at `expected`."""
        target = self.wd.sub("restore-" + snap[:8] + "-" + str(time.monotonic_ns()))
        r = v.restore(f"{snap}:{os.fsdecode(src)}", target)
        self.assertExit(r, 0, f"restore of snapshot {snap[:8]} ({why})")
        try:
            self.assertTreesEqual(expected, target)
        finally:
            harness.rmtree(target)

    def sha256_check(self, v):
        """Runs the manual's command in the vault; returns (ok names, mismatched names)."""
        r = harness.run(["sh", "-c", SHA256_COMMAND], cwd=v.path)
        self.assertExit(r, 0, "the sha256 command")
        ok, bad = [], []
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) == 2 and f[1] == "ok":
                ok.append(f[0])
            elif len(f) == 4 and f[0] == "[!!!]" and f[2] == "MISMATCH":
                bad.append(f[1])
            else:
                self.fail(f"unexpected line {line!r} from the sha256 command\n{r.describe()}")
        # Every file but config was looked at (an empty output would report no mismatch).
        files = [p for p in v.files("") if os.path.basename(p) != b"config"]
        self.assertEqual(len(ok) + len(bad), len(files), r.describe())
        return ok, bad

    # ------------------------------------------------------------------------------------------
    # 1. Recovering from file corruption

    def test_recovering_from_file_corruption(self):
        rng, seed = harness.seeded_rng("test_recovering_from_file_corruption")
        src = self.wd.mkdir("src")
        v = self.new_vault()
        content = {}

        def add(name):
            data = harness.pseudo_random_bytes(rng, rng.randrange(200_000, 400_000))
            harness.write_file(os.path.join(src, name), data)
            content[name] = data

        snaps, saved = [], []
        for step in range(4):
            if step == 0:
                add(b"A")
            elif step == 1:
                add(b"B")
            elif step == 2:
                add(b"C")
            else:
                os.unlink(os.path.join(src, b"B"))
                add(b"D")
            _, s = v.backup(src)
            snaps.append(s["snapshot_id"])
            saved.append(self.save_copy(src, f"snap{step + 1}"))
        harness.log("snapshots " + " ".join(s[:8] for s in snaps))

        # Each file is one blob (below the chunker's minimum) named by its SHA-256; each sits
        # alone in its own data pack.
        where = pack_of_blob(v)
        packs = {}
        for name, data in content.items():
            blob = hashlib.sha256(data).hexdigest()
            self.assertIn(blob, where, f"blob of {name!r} is in no index")
            pack, blobs = where[blob]
            self.assertEqual(blobs, [blob], f"{name!r} does not sit alone in pack {pack[:8]}")
            packs[name] = pack
        self.assertEqual(len(set(packs.values())), 4, packs)
        b_pack = packs[b"B"]
        b_path = os.path.join(v.path, b"data", b_pack[:2].encode(), b_pack.encode())
        self.assertTrue(os.path.isfile(b_path), b_path)

        ok, bad = self.sha256_check(v)
        self.assertEqual(bad, [], "the intact vault has mismatches")
        bit = os.path.getsize(b_path) * 8 // 2
        harness.flip_bit(b_path, bit)
        harness.log(f"flipped bit {bit} of pack {b_pack[:8]} (file B)")

        # Step 1: find the corrupted files, and delete them.
        ok, bad = self.sha256_check(v)
        self.assertEqual(bad, [b_pack], "the sha256 command did not report exactly B's pack")
        os.unlink(b_path)

        # Step 2: the retention pass names the snapshots that depend on the missing pack and
        # prunes nothing.
        before = vault_state(v)
        r = v.bt("retention")
        self.assertExit(r, 1, "retention with a missing pack")
        self.assertIn("Fatal: referential integrity check failed", r.stderr, r.describe())
        found = DEPENDS.findall(r.stderr)
        self.assertEqual(sorted(s for s, _ in found), sorted([snaps[1][:8], snaps[2][:8]]),
                         r.describe())
        for s, missing in found:
            self.assertEqual(missing, b_pack[:8], r.describe())
        self.assertEqual(vault_state(v), before, "the failed retention pass changed the vault")
        self.assertEqual(stored_names(v, "locks"), [], "retention left its lock")

        # Step 3: remove those snapshots' files, by the short IDs printed.
        for s, _ in found:
            rm = harness.run(["sh", "-c", f"rm snapshots/{s}*"], cwd=v.path)
            self.assertExit(rm, 0)
        self.assertEqual(harness.snapshot_ids(v), sorted([snaps[0], snaps[3]]))

        # Step 4: the retention pass again.
        r = v.bt("retention")
        self.assertExit(r, 0, "retention after removing the damaged snapshots")
        self.assertIn("referential integrity ok: 2 snapshots", r.stdout, r.describe())
        self.assertNotIn("depends on missing", r.stdout + r.stderr)
        r = v.bt("check", "--read-data")
        self.assertExit(r, 0, "check after the recovery")
        self.assertIn("no errors were found", r.stdout)
        # The packindex files of the removed snapshots went with the retention pass.
        self.assertEqual(len(stored_names(v, "packindex")), 2, r.describe())
        self.assertRestores(v, snaps[0], src, saved[0], "snapshot 1 after recovery")
        self.assertRestores(v, snaps[3], src, saved[3], "snapshot 4 after recovery")
        ok, bad = self.sha256_check(v)
        self.assertEqual(bad, [], "mismatches after the recovery")
        self.assertNotIn(b_pack, ok)

    # ------------------------------------------------------------------------------------------
    # 2. Kill -9 during prune

    def mutate(self, rng, src, files, step):
        for p in rng.sample(files, 10):
            harness.write_file(p, harness.pseudo_random_bytes(rng, rng.randrange(5_000, 150_000)))
        for j in range(2):
            p = os.path.join(src, b"d%d" % (step % 3), b"new-%d-%d" % (step, j))
            harness.write_file(p, harness.pseudo_random_bytes(rng, rng.randrange(5_000, 150_000)))
            files.append(p)
        os.unlink(files.pop(rng.randrange(len(files))))

    def timed_prune(self, v):
        """An uninterrupted `prune --max-unused 0`: (seconds until its last line of output,
        {progress line: seconds after start}, {"delete": packs, "repack": packs}). Text
        output, whose progress lines come as the phases begin. After the last line only the
        unlock and the exit remain, and under the sanitizers the exit's leak check takes long:
        a kill after the last line would find the lock already gone."""
        t0 = time.monotonic()
        p = v.popen_bt("prune", "--max-unused", "0")
        marks, out = {}, []
        last_line = 0.0
        with p:
            for line in p.stdout:
                last_line = time.monotonic() - t0
                out.append(line)
                text = line.decode("utf-8", "replace").strip()
                for key in ("loading indexes", "repacking", "deleting"):
                    if text.startswith(key) and key not in marks:
                        marks[key] = time.monotonic() - t0
            err = p.stderr.read()
            rc = p.wait()
        duration = time.monotonic() - t0
        r = harness.Run(p.args, rc, b"".join(out), err, duration)
        self.assertExit(r, 0, "uninterrupted prune")
        plan = {}
        for key in ("delete", "repack"):
            m = re.search(r"^packs to %s: +(\d+) \(" % key, r.stdout, re.M)
            self.assertIsNotNone(m, r.describe())
            plan[key] = int(m.group(1))
        return last_line, marks, plan

    def test_kill_during_prune(self):
        runs = harness.OPTIONS.runs or 20
        rng, seed = harness.seeded_rng("test_kill_during_prune")
        t_start = time.monotonic()
        src = self.wd.mkdir("src")
        files = []
        for d in range(3):
            os.mkdir(os.path.join(src, b"d%d" % d))
            for i in range(10):
                p = os.path.join(src, b"d%d" % d, b"f%02d" % i)
                size = rng.randrange(5_000, 150_000)
                harness.write_file(p, harness.pseudo_random_bytes(rng, size))
                files.append(p)
        v = self.new_vault("prepared")
        snaps, saved = [], {}
        for step in range(6):
            if step:
                self.mutate(rng, src, files, step)
            _, s = v.backup(src)
            snaps.append(s["snapshot_id"])
            saved[s["snapshot_id"]] = self.save_copy(src, f"snap{step}")
        # The first snapshot and two others: the packs of the first hold files that later
        # snapshots still use next to files they do not, so prune must repack.
        gone = [snaps[0]] + sorted(rng.sample(snaps[1:], 2), key=snaps.index)
        keep = [s for s in snaps if s not in gone]
        r = v.bt("forget", *gone)
        self.assertExit(r, 0)
        self.assertEqual(harness.snapshot_ids(v), sorted(keep))
        harness.log(f"vault of {vault_bytes(v) >> 10} KiB; forgot {[s[:8] for s in gone]}, "
                    f"keeping {[s[:8] for s in keep]}")

        stats = {"killed": 0, "finished_before_kill": 0, "stale_lock_removed": 0}
        states = {}
        prepared = vault_state(v)
        for run in range(runs):
            t_run = time.monotonic()
            # How long does an uninterrupted prune of this vault take now, and when do its
            # phases begin? (On an identical copy.)
            m = copy_vault(v.path, self.wd.sub(f"measure{run}"), self.wd.path)
            duration, marks, plan = self.timed_prune(m)
            harness.rmtree(m.path)
            self.assertGreater(plan["repack"], 0, "prune repacks nothing: the test proves less")
            self.assertGreater(plan["delete"], 0, "prune deletes nothing: the test proves less")
            t_repack = marks.get("repacking", marks.get("loading indexes", 0.0))
            t_delete = marks.get("deleting", duration)
            bucket = ("anywhere", "work", "late", "late")[run % 4]
            lo = {"anywhere": 0.0, "work": t_repack,
                  "late": t_repack + 0.8 * (t_delete - t_repack)}[bucket]
            delay = rng.uniform(lo, duration)

            w = copy_vault(v.path, self.wd.sub(f"run{run}"), self.wd.path)
            p = w.popen_bt("prune", "--max-unused", "0")
            time.sleep(delay)
            rc = p.poll()
            if rc is None:
                p.send_signal(signal.SIGKILL)
            out, err = p.communicate()
            if rc is None and p.returncode != -signal.SIGKILL:
                rc = p.returncode  # it finished between poll() and kill()
            if rc is not None and rc != 0 and rc != -signal.SIGKILL:
                self.fail(f"run {run}: prune failed on its own (exit {rc}): {err.decode()}")
            killed = rc is None or rc == -signal.SIGKILL
            stats["killed" if killed else "finished_before_kill"] += 1
            what = f"run {run} (seed {seed}, {bucket} kill after {delay:.3f}s of {duration:.3f}s)"

            # What the killed prune got done, from the files it left.
            now = vault_state(w)
            added = sorted({k.split(b"/")[0].decode() for k in set(now) - set(prepared)})
            removed = sorted({k.split(b"/")[0].decode() for k in set(prepared) - set(now)})
            state = f"+{','.join(added) or '-'} -{','.join(removed) or '-'}"
            states[state] = states.get(state, 0) + 1

            # The dead process's lock is stale: unlock removes it, and only it.
            locks = stored_names(w, "locks")
            self.assertLessEqual(len(locks), 1, f"{what}: {locks}")
            if not killed:
                self.assertEqual(locks, [], f"{what}: a finished prune left its lock")
            r = w.bt("--json", "unlock")
            self.assertExit(r, 0, what)
            self.assertEqual(r.json_lines()[-1].get("removed"), len(locks),
                             f"{what}\n{r.describe()}")
            self.assertEqual(stored_names(w, "locks"), [], f"{what}: unlock left a lock")
            stats["stale_lock_removed"] += len(locks)

            # The snapshots are untouched and restore exactly, before and after the prune that
            # finishes the job.
            self.assertEqual(harness.snapshot_ids(w), sorted(keep), what)
            for s in keep:
                self.assertRestores(w, s, src, saved[s], f"{what}, after the kill")
            r = w.bt("--json", "prune", "--max-unused", "0")
            self.assertExit(r, 0, f"{what}: the prune after the kill")
            r = w.bt("check", "--read-data")
            self.assertExit(r, 0, f"{what}: check after the completing prune")
            for s in keep:
                self.assertRestores(w, s, src, saved[s], f"{what}, after the completing prune")
            r = w.bt("--json", "prune", "--max-unused", "0")
            self.assertExit(r, 0, f"{what}: the second prune")
            again = prune_summary(r)
            for key in ("remove_packs", "repack_packs", "orphan_packs", "unused_blobs"):
                self.assertEqual(again[key], 0, f"{what}: {key} left for a further prune\n"
                                 f"{r.describe()}")
            # The packindex files the prunes left must still name every pack each snapshot
            # needs: a retention pass (which trusts them) that forgets the other snapshots
            # must leave this one whole.
            for s in keep:
                x = copy_vault(w.path, self.wd.sub(f"run{run}-only-{s[:8]}"), self.wd.path)
                others = [o for o in keep if o != s]
                r = x.bt("forget", *others, "--prune")
                self.assertExit(r, 0, f"{what}: forget --prune of all but {s[:8]}")
                r = x.bt("check")
                self.assertExit(r, 0, f"{what}: check after the retention pass that kept only "
                                f"{s[:8]}")
                self.assertRestores(x, s, src, saved[s], f"{what}, alone after a retention pass")
                harness.rmtree(x.path)
            harness.rmtree(w.path)
            harness.log(f"run {run + 1}/{runs}: {bucket} kill after {delay:.3f}s of "
                        f"{duration:.3f}s (repacking at {t_repack:.3f}s, deleting at "
                        f"{t_delete:.3f}s): {'killed' if killed else 'finished'}, "
                        f"{len(locks)} stale lock(s), files {state}; "
                        f"{time.monotonic() - t_run:.1f}s")
        harness.log(f"{runs} runs: {stats}; vault states after the kill: {states}; "
                    f"total {time.monotonic() - t_start:.0f}s")
        # Half the delays fall near the end, so some prunes finish first; most must not.
        self.assertGreater(stats["killed"], runs // 4, "too many prunes finished before the "
                           "kill: the delays do not cover the prune")
        self.assertGreater(stats["stale_lock_removed"], 0, "no run left a stale lock")

    # ------------------------------------------------------------------------------------------
    # 3. Concurrent backups; prune refused while a backup holds its lock

    def test_two_backups_at_once_and_prune_refused(self):
        rng, seed = harness.seeded_rng("test_two_backups_at_once_and_prune_refused")
        v = self.new_vault()
        srcs = []
        for n in range(2):
            src = self.wd.mkdir(f"src{n}")
            for i in range(10):
                harness.write_file(os.path.join(src, b"big%d" % i),
                                   harness.pseudo_random_bytes(rng, 2 << 20))
            os.mkdir(os.path.join(src, b"small"))
            for i in range(50):
                harness.write_file(os.path.join(src, b"small", b"s%02d" % i),
                                   harness.pseudo_random_bytes(rng, rng.randrange(0, 20_000)))
            srcs.append(src)
        procs = [v.popen_bt("--json", "backup", src) for src in srcs]
        results = [p.communicate(timeout=600) for p in procs]
        snaps = []
        for p, (out, err), src in zip(procs, results, srcs):
            self.assertEqual(p.returncode, 0, f"concurrent backup of {src!r} failed: "
                             f"{err.decode('utf-8', 'replace')}")
            s = backup_summary(out)
            self.assertIsNotNone(s, out)
            snaps.append(s["snapshot_id"])
        a, b = [backup_summary(out) for out, _ in results]
        overlap = (rfc3339_seconds(a["backup_start"]) < rfc3339_seconds(b["backup_end"]) and
                   rfc3339_seconds(b["backup_start"]) < rfc3339_seconds(a["backup_end"]))
        harness.log(f"two backups: {snaps[0][:8]} {a['backup_start']}..{a['backup_end']}, "
                    f"{snaps[1][:8]} {b['backup_start']}..{b['backup_end']} "
                    f"({'overlapping' if overlap else 'not overlapping'})")
        self.assertNotEqual(snaps[0], snaps[1])
        self.assertEqual(harness.snapshot_ids(v), sorted(snaps))
        self.assertEqual(stored_names(v, "locks"), [])
        self.assertExit(v.bt("check", "--read-data"), 0)
        for s, src in zip(snaps, srcs):
            self.assertRestores(v, s, src, src, "concurrent backup")

        # A backup holds its (shared) lock; prune wants an exclusive one. The backup is
        # stopped (SIGSTOP) while it holds the lock, so prune meets it however fast it runs.
        big = self.wd.mkdir("big")
        for i in range(8):
            harness.write_file(os.path.join(big, b"r%02d" % i), os.urandom(8 << 20))
        before = set(v.files("data"))
        p = v.popen_bt("--json", "backup", big)
        t0 = time.monotonic()
        while not stored_names(v, "locks"):
            if p.poll() is not None or time.monotonic() - t0 > 60:
                out, err = p.communicate()
                self.fail(f"the backup's lock never appeared (exit {p.returncode}): "
                          f"{err.decode('utf-8', 'replace')}")
            time.sleep(0.002)
        p.send_signal(signal.SIGSTOP)
        try:
            t_lock = time.monotonic() - t0
            r = v.bt("prune")
            still_running = p.poll() is None
        finally:
            p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=600)
        harness.log(f"lock after {t_lock:.3f}s; prune ran while the backup was stopped")
        if not still_running:
            self.fail(f"the backup finished (exit {p.returncode}) before its lock was seen"
                      f"\n{r.describe()}")
        self.assertExit(r, 11, "prune while a backup holds its lock")
        self.assertIn("repository is already locked", r.stderr, r.describe())
        self.assertIn(f"by PID {p.pid} on {harness.hostname()}", r.stderr, r.describe())
        self.assertTrue(before <= set(v.files("data")), "prune deleted packs while refused")
        self.assertEqual(p.returncode, 0, f"the backup failed after the refused prune: "
                         f"{err.decode('utf-8', 'replace')}")
        s = backup_summary(out)
        self.assertIsNotNone(s, out)
        self.assertEqual(stored_names(v, "locks"), [], "a lock was left behind")
        self.assertRestores(v, s["snapshot_id"], big, big, "the backup prune could not stop")
        # Without the backup's lock, prune runs.
        self.assertExit(v.bt("prune"), 0)
        self.assertEqual(harness.snapshot_ids(v), sorted(snaps + [s["snapshot_id"]]))

    # ------------------------------------------------------------------------------------------
    # 4. Splitting a Storage Vault

    def test_splitting_a_storage_vault(self):
        rng, seed = harness.seeded_rng("test_splitting_a_storage_vault")
        src = self.wd.mkdir("src")
        os.mkdir(os.path.join(src, b"common"))
        for i in range(2):
            harness.write_file(os.path.join(src, b"common", b"c%d" % i),
                               harness.pseudo_random_bytes(rng, 300_000))
        v = self.new_vault()
        snaps, saved, unique = [], [], []
        for step in range(4):
            data = harness.pseudo_random_bytes(rng, rng.randrange(600_000, 1_200_000))
            harness.write_file(os.path.join(src, b"unique"), data)
            unique.append(len(data))
            _, s = v.backup(src)
            snaps.append(s["snapshot_id"])
            saved.append(self.save_copy(src, f"snap{step + 1}"))
        original = vault_bytes(v)
        clone_path = self.wd.sub("clone")
        r = harness.run(["cp", "-a", os.fsdecode(v.path), os.fsdecode(clone_path)])
        self.assertExit(r, 0)
        clone = harness.Vault(clone_path, self.wd.path)
        self.assertEqual(vault_state(clone), vault_state(v))

        r = clone.bt("forget", snaps[0], snaps[1], "--prune")
        self.assertExit(r, 0, "forget 1-2 --prune in the clone")
        r = v.bt("forget", snaps[2], snaps[3], "--prune")
        self.assertExit(r, 0, "forget 3-4 --prune in the original")
        # The data only the forgotten snapshots held: snapshot 2's file in the clone (snapshot
        # 1's file may share a pack with the common files), snapshots 3 and 4's in the original.
        for vault, kept, forgotten, freed, name in (
                (clone, [2, 3], [0, 1], unique[1], "clone"),
                (v, [0, 1], [2, 3], unique[2] + unique[3], "original")):
            r = vault.bt("check", "--read-data")
            self.assertExit(r, 0, f"check of the {name}")
            listed = [j["id"] for j in vault.snapshots()]
            self.assertEqual(sorted(listed), sorted(snaps[i] for i in kept), name)
            for i in forgotten:
                self.assertNotIn(snaps[i], listed)
            for i in kept:
                self.assertRestores(vault, snaps[i], src, saved[i], f"{name}, snapshot {i + 1}")
            size = vault_bytes(vault)
            harness.log(f"{name}: {original} -> {size} bytes ({original - size} freed, "
                        f"at least {freed} expected)")
            self.assertLess(size, original, name)
            self.assertGreaterEqual(original - size, freed, name)


if __name__ == "__main__":
    harness.main()
