#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Files at rest are named by their SHA-256 (DESIGN §5, the spec's verification command), so
bit rot is found with standard tools; and a flipped byte is not restored silently
(reliability.md C1).

  python3 tests/integration/test_sha256.py --backup-tool PATH
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Exactly the spec's command.
SPEC_COMMAND = (
    "find . ! -name 'config' -type f -exec sha256sum '{}' \\; | "
    "awk '{ sub(\"^.*/\", \"\", $2) ; if ($1 == $2) { print $2,\"ok\" } "
    "else { print \"[!!!]\",$2,\"MISMATCH\",$1 } }'")


class Sha256AtRest(harness.TestCase):
    def verify(self, vault):
        r = harness.run(["sh", "-c", SPEC_COMMAND], cwd=vault.path)
        self.assertExit(r, 0)
        lines = r.stdout.splitlines()
        ok = [l.split()[0] for l in lines if l.endswith(" ok")]
        bad = [l for l in lines if "MISMATCH" in l]
        return ok, bad, lines

    def data_packs(self, v):
        """Packs holding data blobs (not trees), from the index as restic reads it."""
        if not harness.find_restic():
            self.skipTest("needs restic")
        out = set()
        for idx in v.restic("list", "index", expect=0).stdout.split():
            j = json.loads(v.restic("cat", "index", idx, expect=0).stdout)
            for p in j["packs"]:
                if all(b["type"] == "data" for b in p["blobs"]):
                    out.add(p["id"])
        return out

    def test_every_file_is_named_by_its_sha256(self):
        rng, _ = harness.seeded_rng("Sha256AtRest")
        src = self.wd.sub("src")
        harness.build_every_type_tree(src, rng, big=False, sparse_size=8 << 20)
        v = self.new_vault()
        # A few backups with changes between them: several packs, indexes, snapshots.
        for i in range(3):
            harness.write_file(os.path.join(src, b"changing-%d" % i),
                               harness.pseudo_random_bytes(rng, 700_000 * (i + 1)))
            v.backup(src, extra=("--tag", f"run{i}"))
        ok, bad, lines = self.verify(v)
        self.assertEqual(bad, [], "\n".join(bad))
        stored = [p for p in harness.Vault.files(v, "") if os.path.basename(p) != b"config"]
        self.assertEqual(len(ok), len(stored), "\n".join(lines))
        self.assertGreater(len(ok), 0)
        kinds = {os.path.relpath(p, v.path).split(b"/")[0] for p in stored}
        for kind in (b"data", b"index", b"keys", b"snapshots"):
            self.assertIn(kind, kinds, f"no {kind!r} files in the vault")

        # Flip one byte inside the first blob of one pack: the command names exactly that pack.
        packs = sorted(self.data_packs(v))
        self.assertGreater(len(packs), 0)
        pick = packs[rng.randrange(len(packs))]
        victim = os.path.join(v.path, b"data", pick[:2].encode(), pick.encode())
        self.assertTrue(os.path.isfile(victim), victim)
        name = os.path.basename(victim).decode()
        with open(victim, "r+b") as f:
            f.seek(16)  # past the IV: ciphertext (or MAC) of the first blob
            b = f.read(1)
            f.seek(16)
            f.write(bytes([b[0] ^ 0x01]))
        ok2, bad2, lines2 = self.verify(v)
        self.assertEqual(len(bad2), 1, "\n".join(lines2))
        self.assertRegex(bad2[0], r"^\[!!!\] " + name + r" MISMATCH [0-9a-f]{64}$")
        self.assertEqual(len(ok2), len(ok) - 1)
        self.assertNotIn(name, ok2)

        # A restore needing that pack fails loudly and never writes wrong bytes.
        target = self.wd.sub("target")
        r = v.restore(f"latest:{os.fsdecode(src)}", target)
        self.assertNotEqual(r.rc, 0, "restore from a corrupted pack succeeded\n" + r.describe())
        self.assertIn(name[:8], r.stderr, "the damaged pack is not named")
        expected = harness.scan_tree(src)
        got = harness.scan_tree(target) if os.path.isdir(target) else {}
        wrong = [p for p, e in got.items() if e["type"] == "file" and p in expected
                 and e.get("sha256") != expected[p].get("sha256")]
        self.assertEqual(wrong, [], "files restored with wrong content")
        missing = [p for p, e in expected.items() if e["type"] == "file" and p not in got]
        self.assertGreater(len(missing), 0, "every file was restored despite a damaged pack")


if __name__ == "__main__":
    harness.main()
