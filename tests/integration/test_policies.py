#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Policies and tenants in halleyd (docs/server.md "Policies", "Tenants"): admin/policies/*
with unknown fields kept, a linked profile carrying its policy and following its changes, the
Prevent* flags refusing the user API (403 naming the flag) while the admin API passes, a device
refused `login passwd` and keeping mandatory exclusions out of its backups; organizations and a
tenant administrator who sees and changes only its own organization.

  python3 tests/integration/test_policies.py --backup-tool PATH --halleyd PATH
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from server import HalleydTestCase, register_bucket, setup_admin  # noqa: E402
from test_managed import USER, USER_PASSWORD, AccountTestCase, Device  # noqa: E402
from test_server import login_secret  # noqa: E402

LOCAL_VAULT = {"Description": "usb disk", "DestinationType": 1002, "LocalcopyPath": "/mnt/usb"}
HALLEY_VAULT = {"Description": "requested", "DestinationType": 1003,
                "CometServer": "http://127.0.0.1:1/", "CometBucket": "b"}


class Policies(AccountTestCase):
    def new_policy(self, policy, **extra):
        reply = self.admin_api("admin/policies/new", Policy={"Policy": policy, **extra})
        return reply["PolicyID"]

    def link(self, user, policy_id, expect=200):
        profile = self.admin_api("admin/get-user-profile", TargetUser=user)
        profile["PolicyID"] = policy_id
        return self.admin_api("admin/set-user-profile", expect=expect, TargetUser=user,
                              ProfileData=profile)

    def user_api(self, endpoint, expect=200, user=USER, password=USER_PASSWORD, **form):
        status, reply = self.server.api(endpoint, auth=(user, password), **form)
        self.assertEqual(status, expect, reply)
        return reply

    def user_profile(self, user=USER, password=USER_PASSWORD):
        reply = self.user_api("user/web/get-user-profile-and-hash", user=user, password=password)
        return reply["Profile"], reply["ProfileHash"]

    def user_write(self, profile, hash_, expect=200):
        return self.user_api("user/web/set-user-profile-hash", expect=expect,
                             ProfileData=profile, RequireHash=hash_)

    def assert_refused(self, reply, flag):
        self.assertEqual(reply["Status"], 403, reply)
        self.assertIn(flag, reply["Message"])

    # ------------------------------------------------------------------------------------
    def test_crud_round_trip_and_linked_profiles(self):
        policy = {"Description": "Laptops", "OrganizationID": "", "DefaultUserPolicy": False,
                  "FutureField": {"kept": [1, 2]},
                  "Policy": {"PreventDeleteStorageVault": True, "FutureFlag": "kept too"}}
        # The SDK's parameter is Policy; PolicyData is taken as well.
        pid = self.admin_api("admin/policies/new", PolicyData=policy)["PolicyID"]
        self.assertEqual(self.admin_api("admin/policies/list"), {pid: "Laptops"})
        full = self.admin_api("admin/policies/list-full")[pid]
        self.assertEqual(full["FutureField"], {"kept": [1, 2]})
        self.assertEqual(full["Policy"]["FutureFlag"], "kept too")
        self.assertGreater(full["CreatedDate"], 0)
        got = self.admin_api("admin/policies/get", PolicyID=pid)
        self.assertEqual(got["Policy"], full)
        self.assertRegex(got["PolicyHash"], r"^[0-9a-f]{64}$")
        self.admin_api("admin/policies/get", expect=404, PolicyID="nope")
        self.admin_api("admin/policies/new", expect=400, Policy={"Policy": []})

        # Linking copies the policy into the profile; an unknown policy cannot be linked.
        self.link(USER, "no-such-policy", expect=404)
        self.link(USER, pid)
        self.assertEqual(self.profile()["Policy"], policy["Policy"])

        # A change reaches the linked profile; a stale hash is refused.
        policy["Policy"]["PreventRequestStorageVault"] = True
        self.admin_api("admin/policies/set", PolicyID=pid, Policy=policy,
                       CheckPolicyHash=got["PolicyHash"])
        self.assertEqual(self.profile()["Policy"], policy["Policy"])
        self.admin_api("admin/policies/set", expect=409, PolicyID=pid, Policy=policy,
                       CheckPolicyHash=got["PolicyHash"])
        after = self.admin_api("admin/policies/get", PolicyID=pid)["Policy"]
        self.assertEqual(after["CreatedDate"], full["CreatedDate"])
        self.assertEqual(after["FutureField"], {"kept": [1, 2]})

        # The user cannot unlink or edit the policy in their own profile.
        profile, hash_ = self.user_profile()
        profile["PolicyID"] = ""
        profile["Policy"] = {}
        self.user_write(profile, hash_)
        self.assertEqual(self.profile()["PolicyID"], pid)
        self.assertEqual(self.profile()["Policy"], policy["Policy"])

        # A policy in use is not deleted: the admin unlinks its users first.
        reply = self.admin_api("admin/policies/delete", expect=409, PolicyID=pid)
        self.assertIn(USER, reply["Message"])
        self.link(USER, "")
        self.admin_api("admin/policies/delete", PolicyID=pid)
        self.assertEqual(self.admin_api("admin/policies/list"), {})
        self.admin_api("admin/policies/delete", expect=404, PolicyID=pid)
        # An admin may set the policy's ID itself (set creates it).
        self.admin_api("admin/policies/set", PolicyID="my-policy", Policy={"Description": "x"})
        self.assertEqual(self.admin_api("admin/policies/list"), {"my-policy": "x"})

    def test_prevent_flags_refuse_the_user_api_not_the_admin_api(self):
        bob, bob_password = "bob", "bob's password 3"
        self.admin_api("admin/add-user", TargetUser=bob, TargetPassword=bob_password,
                       StoreRecoveryCode=1)
        pid = self.new_policy({"PreventRequestStorageVault": True,
                               "PreventAddCustomStorageVault": True,
                               "PreventDeleteStorageVault": True,
                               "PreventChangeAccountPassword": True})
        self.link(USER, pid)
        self.link(bob, pid)

        # PreventRequestStorageVault
        status, reply = self.server.api("user/web/request-storage-vault",
                                        auth=(USER, USER_PASSWORD))
        self.assertEqual(status, 403)
        self.assert_refused(reply, "PreventRequestStorageVault")
        vault_id = self.admin_api("admin/request-storage-vault", TargetUser=USER)["DestinationID"]

        # PreventAddCustomStorageVault: a vault of another type than 1003 is refused, a
        # requested-style one is not, and turning one into another type is refused too.
        profile, hash_ = self.user_profile()
        profile["Destinations"]["usb"] = LOCAL_VAULT
        self.assert_refused(self.user_write(profile, hash_, expect=403),
                            "PreventAddCustomStorageVault")
        profile, hash_ = self.user_profile()
        profile["Destinations"][vault_id]["DestinationType"] = 1002
        self.assert_refused(self.user_write(profile, hash_, expect=403),
                            "PreventAddCustomStorageVault")
        profile, hash_ = self.user_profile()
        profile["Destinations"]["other"] = HALLEY_VAULT
        profile["Destinations"][vault_id]["EncryptedEncryptionKey"] = "edited by the device"
        self.user_write(profile, hash_)
        profile = self.profile()
        profile["Destinations"]["usb"] = LOCAL_VAULT
        self.admin_api("admin/set-user-profile", TargetUser=USER, ProfileData=profile)

        # PreventDeleteStorageVault
        profile, hash_ = self.user_profile()
        del profile["Destinations"]["usb"]
        self.assert_refused(self.user_write(profile, hash_, expect=403),
                            "PreventDeleteStorageVault")
        # ... nor emptied or repointed, which loses it as well.
        profile, hash_ = self.user_profile()
        profile["Destinations"]["usb"] = None
        self.assertIn("DestinationType", self.user_write(profile, hash_, expect=400)["Message"])
        profile, hash_ = self.user_profile()
        profile["Destinations"][vault_id]["CometBucket"] = "somewhere-else"
        self.assert_refused(self.user_write(profile, hash_, expect=403),
                            "PreventDeleteStorageVault")
        profile = self.profile()
        del profile["Destinations"]["usb"]
        self.admin_api("admin/set-user-profile", TargetUser=USER, ProfileData=profile)
        self.assertNotIn("usb", self.profile()["Destinations"])

        # PreventChangeAccountPassword: the user's change is refused, the admin's reset passes.
        profile, hash_ = self.user_profile(bob, bob_password)
        secret, _, r = login_secret(bob, "bob's new password")
        status, reply = self.server.api("user/web/account/change-password",
                                        auth=(bob, bob_password), NewPassword=secret,
                                        ProfileData=profile, RequireHash=hash_,
                                        NewRecoveryCode=r.hex())
        self.assertEqual(status, 403)
        self.assert_refused(reply, "PreventChangeAccountPassword")
        self.user_profile(bob, bob_password)  # the old password still works
        self.admin_api("admin/reset-user-password", TargetUser=bob,
                       NewPassword="reset by the admin")
        self.user_profile(bob, "reset by the admin")

        # Lifting a flag in the policy lifts it for every linked user at once.
        self.admin_api("admin/policies/set", PolicyID=pid,
                       Policy={"Policy": {"PreventDeleteStorageVault": True}})
        self.user_api("user/web/request-storage-vault")

    def test_a_device_obeys_the_policy(self):
        pid = self.new_policy({
            "PreventChangeAccountPassword": True,
            "FileAndFolderMandatoryExclusions": [
                {"Exclude": "*.secret", "Regex": False, "RestrictOS": 0},
                {"Exclude": "/junk$", "Regex": True, "RestrictOS": 5},
                {"Exclude": "*.win", "Regex": False, "RestrictOS": 1},  # Windows only
            ]})
        self.link(USER, pid)
        d = Device(self.wd.path, "laptop")
        d.login(self.server)
        src = self.wd.mkdir("src")
        for name in (b"keep.txt", b"a.secret", b"sub/b.secret", b"junk/inside", b"keep.win"):
            os.makedirs(os.path.dirname(os.path.join(src, name)), exist_ok=True)
            harness.write_file(os.path.join(src, name), name + b"\n")
        d.bt("vault", "request", "--name", "v", expect=0)
        d.bt("item", "add", "--name", "docs", src, expect=0)
        d.bt("--vault", "v", "backup", "--item", "docs", expect=0)
        listed = d.bt("--vault", "v", "ls", "latest", expect=0).stdout
        src_text = os.fsdecode(src)
        for kept in ("keep.txt", "keep.win", "sub"):
            self.assertIn(f"{src_text}/{kept}\n", listed)
        for gone in ("a.secret", "b.secret", "junk"):
            self.assertNotIn(gone, listed)

        # A mandatory exclusion that cannot be applied is a warning (7001), never dropped
        # silently.
        self.admin_api("admin/policies/set", PolicyID=pid, Policy={"Policy": {
            "FileAndFolderMandatoryExclusions": [{"Exclude": "(unclosed", "Regex": True}]}})
        r = d.bt("--vault", "v", "backup", "--item", "docs", expect=3)
        self.assertIn("(unclosed", r.stderr)
        # (Both may start within one second: StartTime cannot order them.)
        jobs = self.jobs()
        self.assertEqual(sorted(j["Status"] for j in jobs), [5000, 7001], jobs)
        log = self.job_log(next(j for j in jobs if j["Status"] == 7001))
        self.assertTrue(any(e["Severity"] == "W" and "(unclosed" in e["Message"] for e in log),
                        log)

        # A policy change reaches the device's daemon at once (refetch-profile), and a tenant
        # administrator can neither see nor reach the device of a user outside its organization.
        daemon = self.start_daemon(d.env, poll="3600")
        cid = self.wait(lambda: next(iter(self.admin_api("admin/dispatcher/list-active")), None),
                        "the device's live connection")
        self.admin_api("admin/policies/set", PolicyID=pid,
                       Policy={"Policy": {"PreventChangeAccountPassword": True}})
        self.wait(lambda: "dispatcher request: refetch-profile" in self.daemon_log(daemon),
                  "the daemon told to refetch its profile")
        config = self.admin_api("admin/meta/server-config/get")
        config["AdminUsers"].append({"Username": "tenant", "Password": "tenant password",
                                     "PasswordFormat": 0, "OrganizationID": "elsewhere"})
        self.admin_api("admin/meta/server-config/set", Config=config)
        tenant = ("tenant", "tenant password")
        status, reply = self.server.api("admin/dispatcher/list-active", auth=tenant)
        self.assertEqual((status, reply), (200, {}))
        status, reply = self.server.api("admin/dispatcher/refetch-profile", auth=tenant,
                                        TargetID=cid)
        self.assertEqual((status, reply["Message"]), (404, f"No live connection '{cid}'"))

        # PreventChangeAccountPassword: `login passwd` is refused and the old password stays.
        new_file = self.wd.sub("new-password")
        harness.write_file(new_file, b"a new password\n")
        r = d.bt("login", "passwd", "--new-password-file", new_file, password=USER_PASSWORD)
        self.assertNotEqual(r.rc, 0, r.describe())
        self.assertIn("PreventChangeAccountPassword", r.stderr)
        d.login(self.server)


class Tenants(HalleydTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.start()
        self.admin = setup_admin(self.server)

    def tenant_api(self, endpoint, expect=200, **form):
        status, reply = self.server.api(endpoint, auth=self.tenant, **form)
        self.assertEqual(status, expect, reply)
        return reply

    def org_of(self, user):
        return self.admin_api("admin/get-user-profile", TargetUser=user)["OrganizationID"]

    def test_a_tenant_admin_sees_and_changes_only_its_organization(self):
        acme = self.admin_api("admin/organization/set", Organization={"Name": "Acme"})
        self.assertEqual(acme["Organization"], {"Name": "Acme"})
        acme = acme["ID"]
        beta = self.admin_api("admin/organization/set", OrganizationID="beta",
                              Organization={"Name": "Beta", "Hosts": ["beta.example"]})["ID"]
        self.assertEqual(beta, "beta")
        self.assertEqual(set(self.admin_api("admin/organization/list")), {acme, beta})
        self.admin_api("admin/organization/set", expect=400, OrganizationID="bad id",
                       Organization={})
        config = self.admin_api("admin/meta/server-config/get")
        config["AdminUsers"].append({"Username": "acme-admin", "PasswordFormat": 0,
                                     "Password": "acme admin password", "OrganizationID": acme})
        self.admin_api("admin/meta/server-config/set", Config=config)
        self.tenant = ("acme-admin", "acme admin password")

        # Users: a tenant admin's users are in its organization, whatever it asks for.
        self.admin_api("admin/add-user", TargetUser="top-user", TargetPassword="pw 1")
        self.admin_api("admin/add-user", TargetUser="beta-user", TargetPassword="pw 2",
                       TargetOrganization=beta)
        self.tenant_api("admin/add-user", TargetUser="acme-user", TargetPassword="pw 3")
        self.tenant_api("admin/add-user-from-profile", TargetUser="acme-2",
                        ProfileData={"OrganizationID": beta})
        self.tenant_api("admin/add-user", expect=403, TargetUser="x", TargetPassword="pw",
                        TargetOrganization=beta)
        self.assertEqual(self.org_of("acme-user"), acme)
        self.assertEqual(self.org_of("acme-2"), acme)
        self.assertEqual(self.tenant_api("admin/list-users"), ["acme-2", "acme-user"])
        self.assertEqual(set(self.tenant_api("admin/list-users-full")), {"acme-2", "acme-user"})
        self.assertEqual(len(self.admin_api("admin/list-users")), 4)
        profile = self.tenant_api("admin/get-user-profile", TargetUser="acme-user")
        profile["OrganizationID"] = beta  # cannot move its users out
        self.tenant_api("admin/set-user-profile", TargetUser="acme-user", ProfileData=profile)
        self.assertEqual(self.org_of("acme-user"), acme)
        for endpoint in ("admin/get-user-profile", "admin/get-user-profile-and-hash",
                         "admin/delete-user", "admin/get-jobs-for-user",
                         "admin/request-storage-vault"):
            # Another organization's user is as absent as one that does not exist.
            for other in ("beta-user", "top-user", "nobody"):
                reply = self.tenant_api(endpoint, expect=404, TargetUser=other)
                self.assertEqual(reply["Message"], f"no user '{other}'")
        self.tenant_api("admin/set-user-profile", expect=404, TargetUser="beta-user",
                        ProfileData={})

        # Top-level only: the server's configuration, organizations, the lobby.
        for endpoint, form in (("admin/meta/server-config/get", {}),
                               ("admin/meta/server-config/set", {"Config": config}),
                               ("admin/organization/list", {}),
                               ("admin/organization/set", {"Organization": {}}),
                               ("admin/organization/delete", {"OrganizationID": acme}),
                               ("admin/installation/list-active", {}),
                               ("admin/storage/free-space", {})):
            reply = self.tenant_api(endpoint, expect=403, **form)
            self.assertIn("top-level", reply["Message"])
        # A session key carries the same scope.
        key = self.tenant_api("admin/account/session-start")["SessionKey"]
        status, reply = self.server.api("admin/list-users", Username="acme-admin",
                                        AuthType="SessionKey", SessionKey=key)
        self.assertEqual((status, reply), (200, ["acme-2", "acme-user"]))

        # Policies
        own = self.tenant_api("admin/policies/new", Policy={"Description": "acme",
                                                            "OrganizationID": beta})["PolicyID"]
        theirs = self.admin_api("admin/policies/new", Policy={"Description": "beta",
                                                              "OrganizationID": beta})["PolicyID"]
        self.assertEqual(self.tenant_api("admin/policies/list"), {own: "acme"})
        self.assertEqual(len(self.admin_api("admin/policies/list")), 2)
        self.assertEqual(self.admin_api("admin/policies/get", PolicyID=own)["Policy"]
                         ["OrganizationID"], acme)
        self.tenant_api("admin/policies/get", expect=404, PolicyID=theirs)
        self.tenant_api("admin/policies/set", expect=404, PolicyID=theirs, Policy={})
        self.tenant_api("admin/policies/delete", expect=404, PolicyID=theirs)
        # A user links only to a policy of its own organization.
        profile = self.tenant_api("admin/get-user-profile", TargetUser="acme-user")
        profile["PolicyID"] = own
        self.tenant_api("admin/set-user-profile", TargetUser="acme-user", ProfileData=profile)
        profile = self.admin_api("admin/get-user-profile", TargetUser="top-user")
        profile["PolicyID"] = own
        self.admin_api("admin/set-user-profile", expect=400, TargetUser="top-user",
                       ProfileData=profile)

        # Buckets
        mine, _ = register_bucket(self.server, self.tenant)
        other, _ = register_bucket(self.server, self.admin, SetOrganizationID=beta)
        self.assertEqual(list(self.tenant_api("admin/storage/list-buckets")), [mine])
        self.assertEqual(self.tenant_api("admin/storage/bucket-properties", BucketID=mine)
                         ["OrganizationID"], acme)
        self.tenant_api("admin/storage/bucket-properties", expect=404, BucketID=other)
        self.tenant_api("admin/storage/delete-bucket", expect=404, BucketID=other)
        self.tenant_api("admin/storage/register-bucket", expect=403, SetOrganizationID=beta)

        # Jobs
        job_ids = {}
        for user, password in (("acme-user", "pw 3"), ("beta-user", "pw 2")):
            status, reply = self.server.api("user/web/job/start", auth=(user, password),
                                            Job={"Classification": 4001})
            self.assertEqual(status, 200, reply)
            job_ids[user] = reply["JobID"]
        for endpoint in ("admin/get-jobs-all", "admin/get-jobs-recent"):
            self.assertEqual([j["GUID"] for j in self.tenant_api(endpoint)],
                             [job_ids["acme-user"]])
            self.assertEqual(len(self.admin_api(endpoint)), 2)
        self.assertEqual([j["GUID"] for j in self.tenant_api("admin/get-jobs-for-date-range",
                                                             Start=0, End=0)],
                         [job_ids["acme-user"]])
        self.tenant_api("admin/get-job-properties", JobID=job_ids["acme-user"])
        for endpoint in ("admin/get-job-properties", "admin/get-job-log",
                         "admin/get-job-log-entries"):
            reply = self.tenant_api(endpoint, expect=404, JobID=job_ids["beta-user"])
            self.assertNotIn("beta-user", reply["Message"])
        self.tenant_api("admin/job/abandon", expect=404, TargetUser="acme-user",
                        JobID=job_ids["beta-user"])
        self.assertEqual(self.tenant_api("admin/dispatcher/list-active"), {})

        # An organization that still has members is not deleted.
        reply = self.admin_api("admin/organization/delete", expect=409, OrganizationID=acme)
        for what in ("user", "bucket", "polic", "administrator"):
            self.assertIn(what, reply["Message"])
        self.admin_api("admin/organization/delete", expect=409, OrganizationID=beta)
        empty = self.admin_api("admin/organization/set", Organization={"Name": "Empty"})["ID"]
        self.admin_api("admin/organization/delete", OrganizationID=empty)
        self.admin_api("admin/organization/delete", expect=404, OrganizationID=empty)
        self.assertEqual(set(self.admin_api("admin/organization/list")), {acme, beta})

        # A new password ends the admin's sessions (a leaked one is rotated that way); the
        # other admins' sessions stay.
        top_key = self.admin_api("admin/account/session-start")["SessionKey"]
        config = self.admin_api("admin/meta/server-config/get")
        for a in config["AdminUsers"]:
            if a["Username"] == "acme-admin":
                a.update(Password="acme's new password", PasswordFormat=0)
        self.admin_api("admin/meta/server-config/set", Config=config)
        for user, session, expect in (("acme-admin", key, 401), (self.admin[0], top_key, 200)):
            status, reply = self.server.api("admin/meta/version", Username=user,
                                            AuthType="SessionKey", SessionKey=session)
            self.assertEqual(status, expect, (user, reply))
        self.tenant = ("acme-admin", "acme's new password")
        key = self.tenant_api("admin/account/session-start")["SessionKey"]

        # A deleted admin's session ends with its account.
        config = self.admin_api("admin/meta/server-config/get")
        config["AdminUsers"] = [a for a in config["AdminUsers"] if a["Username"] != "acme-admin"]
        self.admin_api("admin/meta/server-config/set", Config=config)
        status, _ = self.server.api("admin/list-users", Username="acme-admin",
                                    AuthType="SessionKey", SessionKey=key)
        self.assertEqual(status, 401)


if __name__ == "__main__":
    harness.main()
