#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Storage Templates on another server (comet.md §5.4): an Authentication Role whose template
points at a second halleyd that runs only the Storage Role. A device's `vault request` makes
the first server register the bucket on the second with the template's admin login, carrying
only the device's key hash; the device then backs up straight to the second server. Also the
admin/meta/remote-storage-vault/get|set|test calls, and what a device sees when the storage
server is down or refuses the template's login.

  python3 tests/integration/test_storage_templates.py --backup-tool PATH --halleyd PATH
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import Halleyd, config as server_config, setup_admin  # noqa: E402
from test_managed import USER, AccountTestCase, Device  # noqa: E402

STORAGE_ADMIN = ("storage-admin", "storage admin password 3")


class StorageTemplates(AccountTestCase):
    def start_storage_server(self):
        """A second halleyd with the Storage Role only, and its admin."""
        data = os.fsdecode(self.wd.sub("storage-server"))
        cfg = server_config()
        cfg["AuthenticationRole"] = {"RoleEnabled": False, "RemoteStorage": []}
        s = Halleyd(data, config=cfg)
        self.servers.append(s)
        setup_admin(s, *STORAGE_ADMIN)
        return s

    def template(self, storage, password=STORAGE_ADMIN[1], **extra):
        t = {"Type": "comet", "ID": "remote-1", "Description": "Storage server 1",
             "RemoteAddress": f"http://{storage.address}/", "Username": STORAGE_ADMIN[0],
             "Password": password, "Default": False}
        t.update(extra)
        return t

    def set_templates(self, *templates, expect=200):
        return self.admin_api("admin/meta/remote-storage-vault/set", expect=expect,
                              RemoteStorageOptions=json.dumps(list(templates)))

    def test_a_vault_on_another_storage_role(self):
        storage = self.start_storage_server()
        own = self.admin_api("admin/meta/remote-storage-vault/get")
        self.assertEqual([t["ID"] for t in own], ["default-self"])
        remote = self.template(storage, StorageLimitEnabled=True, StorageLimitBytes=1 << 30)
        self.set_templates(own[0], remote)
        self.assertEqual([t["ID"] for t in self.admin_api("admin/meta/remote-storage-vault/get")],
                         ["default-self", "remote-1"])
        providers = self.admin_api("admin/request-storage-vault-providers")
        self.assertEqual(providers["remote-1"], "Storage server 1")
        tested = self.admin_api("admin/meta/remote-storage-vault/test",
                                TemplateOptions=json.dumps(remote))
        self.assertTrue(tested["StorageRole"], tested)
        self.assertIn("FreeSpace", tested)

        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        vault = d.json("vault", "request", "--name", "offsite", "--provider", "remote-1")
        dest = self.admin_api("admin/get-user-profile", TargetUser=USER)["Destinations"][vault["id"]]
        self.assertEqual(dest["CometServer"], f"http://{storage.address}/")
        self.assertEqual(dest["CometBucketKey"], "")  # the key stayed on the device
        status, remote_buckets = storage.api("admin/storage/list-buckets", auth=STORAGE_ADMIN)
        self.assertEqual(status, 200, remote_buckets)
        self.assertEqual(list(remote_buckets), [dest["CometBucket"]])
        self.assertEqual(remote_buckets[dest["CometBucket"]]["StorageLimitBytes"], 1 << 30)
        status, own_buckets = self.server.api("admin/storage/list-buckets", auth=self.admin)
        self.assertEqual((status, own_buckets), (200, {}))

        src = self.wd.mkdir("src")
        harness.write_file(os.path.join(src, b"a"), harness.pseudo_random_bytes(self.rng, 3 << 20))
        harness.write_file(os.path.join(src, b"b.txt"), b"hello\n" * 1000)
        d.bt("--vault", "offsite", "backup", src, expect=0)
        # The data is on the storage server, under the bucket; nothing on the first one.
        bucket_dir = os.path.join(storage.data_dir, "storage", dest["CometBucket"])
        self.assertTrue(os.listdir(os.path.join(bucket_dir, "data")))
        self.assertFalse(os.path.exists(os.path.join(self.data, "storage", dest["CometBucket"])))
        target = self.wd.sub("restore")
        d.bt("--vault", "offsite", "restore", "latest", "--target", target, expect=0)
        self.assertTreesEqual(src, os.path.join(target, src.lstrip(b"/")))
        # Zero knowledge across both servers: neither holds the vault password.
        vault_password = d.bt("vault", "key", "offsite", expect=0).stdout.strip()
        for data_dir in (self.data, storage.data_dir):
            for dirpath, _, names in os.walk(data_dir):
                if os.path.join("storage", dest["CometBucket"]) in dirpath:
                    continue
                for n in names:
                    with open(os.path.join(dirpath, n), "rb") as f:
                        body = f.read()
                    for secret in (vault_password.encode(), bytes.fromhex(vault_password)):
                        self.assertNotIn(secret, body, os.path.join(dirpath, n))

    def test_refusals_are_explained(self):
        storage = self.start_storage_server()
        own = self.admin_api("admin/meta/remote-storage-vault/get")
        # Malformed templates are refused whole and the saved ones stay.
        for bad in ([own[0], dict(own[0])],                                 # duplicate ID
                    [dict(own[0], Default=True), self.template(storage, Default=True)],
                    [self.template(storage, RemoteAddress="ftp://x/")],
                    [self.template(storage, Username="")],
                    [{"Type": "comet"}]):
            r = self.set_templates(*bad, expect=400)
            self.assertIn("Storage Template", r["Message"])
        self.assertEqual(self.admin_api("admin/meta/remote-storage-vault/get"), own)

        wrong = self.template(storage, password="not the password")
        r = self.admin_api("admin/meta/remote-storage-vault/test", expect=500,
                           TemplateOptions=json.dumps(wrong))
        self.assertIn("remote-1", r["Message"])
        self.assertNotIn("not the password", r["Message"])
        self.set_templates(own[0], wrong)
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        # The storage server refusing the template's login is the server's problem, not the
        # device's: no exit 13 (its own login refused), and the device stays logged in.
        r = d.bt("vault", "request", "--name", "offsite", "--provider", "remote-1")
        self.assertNotIn(r.rc, (0, 12, 13), r.describe())
        self.assertIn("remote-1", r.stderr, r.describe())
        self.assertEqual(d.status(), "Logged in, unlocked (2)")

        # The storage server down: a retryable error, and no vault in the profile.
        self.set_templates(own[0], self.template(storage))
        storage.stop()
        r = d.bt("vault", "request", "--name", "offsite", "--provider", "remote-1")
        self.assertNotEqual(r.rc, 0, r.describe())
        self.assertIn("remote-1", r.stderr, r.describe())
        self.assertEqual(self.admin_api("admin/get-user-profile",
                                        TargetUser=USER)["Destinations"], {})
        # A template of a type this server cannot provision says so.
        self.set_templates(own[0], {"Type": "b2", "ID": "b2", "Description": "B2"})
        r = d.bt("vault", "request", "--name", "offsite", "--provider", "b2")
        self.assertNotEqual(r.rc, 0, r.describe())
        self.assertIn("type 'b2'", r.stderr, r.describe())


if __name__ == "__main__":
    harness.main()
