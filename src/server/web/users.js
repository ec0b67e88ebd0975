// SPDX-License-Identifier: Apache-2.0
//
// The Users page (admin/list-users-full, add-user, delete-user) and a user's page: profile
// summary, devices (revoke-device), Storage Vaults (request-storage-vault), Protected Items,
// schedules, password reset (reset-user-password) and the user's jobs (get-jobs-for-user).
// Password hashes and recovery codes in profiles are never shown.

import {call} from './api.js';
import {badge, button, card, checkbox, confirmAction, dialog, errorBox, facts, field, h, notify,
        pageHead, reportError, select, table} from './dom.js';
import {bytes, destinationTypeName, engineName, FREQUENCY, time} from './format.js';
import {jobsTable, statusBadge} from './jobs.js';

const userHref = name => `#/users/${encodeURIComponent(name)}`;
const size = obj => (obj && typeof obj === 'object' ? Object.keys(obj).length : 0);
const entries = obj => (obj && typeof obj === 'object' ? Object.entries(obj) : []);
const loading = () => h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
const newPassword = (label, name) =>
  field(label, {name, type: 'password', required: true, autocomplete: 'new-password'});

// A job's status badge and start time, or a dash.
function lastJob(job) {
  if (!job?.StartTime) return '—';
  return [statusBadge(job.Status), ' ', h('small', {class: 'muted'}, time(job.StartTime))];
}

// --- the list ---

export async function renderUsers(view) {
  const filter = field('Search',
                       {type: 'search', name: 'filter', placeholder: 'user or account name'});
  const results = loading();
  let users = [];
  let lastJobs = new Map();

  const show = () => {
    const needle = filter.querySelector('input').value.trim().toLowerCase();
    const shown = users.filter(([name, p]) =>
      needle === '' || `${name} ${p.AccountName ?? ''}`.toLowerCase().includes(needle));
    results.replaceChildren(
      h('p', {class: 'muted'}, `${shown.length} of ${users.length} users`),
      table(shown, [
        {title: 'Username', cell: ([name]) => h('a', {href: userHref(name)}, name)},
        {title: 'Account name', cell: ([, p]) => p.AccountName || '—'},
        {title: 'Devices', cell: ([, p]) => String(size(p.Devices)), class: 'num'},
        {title: 'Protected Items', cell: ([, p]) => String(size(p.Sources)), class: 'num'},
        {title: 'Storage Vaults', cell: ([, p]) => String(size(p.Destinations)), class: 'num'},
        {title: 'Last job (24 h)', cell: ([name]) => lastJob(lastJobs.get(name))},
        {title: '', class: 'row-actions', cell: ([name]) => [
          h('a', {class: 'button small secondary', href: userHref(name)}, 'Open'),
          button('Delete', () => deleteUser(name, load), 'small danger'),
        ]},
      ], {empty: users.length ? 'No user matches.' : 'There are no users yet.',
          rowProps: ([name]) => ({dataset: {user: name}})}));
  };
  const load = async () => {
    try {
      const [all, recent] = await Promise.all([call('admin/list-users-full'),
                                               call('admin/get-jobs-recent')]);
      users = Object.entries(all).sort(([a], [b]) => a.localeCompare(b));
      lastJobs = new Map();
      for (const job of recent) {
        const seen = lastJobs.get(job.Username);
        if (!seen || (job.StartTime ?? 0) > (seen.StartTime ?? 0)) lastJobs.set(job.Username, job);
      }
      show();
    } catch (e) {
      results.replaceChildren(errorBox(e));
    }
  };
  filter.querySelector('input').addEventListener('input', show);
  view.replaceChildren(pageHead('Users', button('Add user…', () => addUser(load)),
                                button('Refresh', load, 'secondary')),
                       h('div', {class: 'toolbar'}, filter), results);
  await load();
}

async function addUser(reload) {
  const added = await dialog({
    title: 'Add user',
    submitLabel: 'Add user',
    fields: [
      field('Username', {name: 'username', required: true, autocomplete: 'off', maxlength: 128}),
      newPassword('Password', 'password'),
      newPassword('Repeat password', 'password2'),
      checkbox('Keep a recovery code on the server (lets administrators reset the password)',
               {name: 'recovery', checked: true}),
      checkbox('Require a password change at the first login', {name: 'change'}),
    ],
    submit: async form => {
      const f = form.elements;
      if (f.password.value !== f.password2.value) throw new Error('The passwords differ.');
      await call('admin/add-user', {
        TargetUser: f.username.value.trim(),
        TargetPassword: f.password.value,
        StoreRecoveryCode: f.recovery.checked ? '1' : '0',
        RequirePasswordChange: f.change.checked ? 'true' : 'false',
      });
      return f.username.value.trim();
    },
  });
  if (added) {
    notify(`User ${added} was added.`);
    await reload();
  }
}

async function deleteUser(name, after) {
  const done = await confirmAction({
    title: 'Delete user',
    message: `Delete the account ${name}, its devices' access and its job history? ` +
             'Its Storage Vault buckets are kept; their data is not deleted.',
    label: 'Delete user',
    action: () => call('admin/delete-user', {TargetUser: name}),
  });
  if (done) {
    notify(`User ${name} was deleted.`);
    await after();
  }
}

// --- one user ---

export async function renderUser(view, name) {
  const body = loading();
  const load = async () => {
    try {
      const [profile, live, jobs] = await Promise.all([
        call('admin/get-user-profile', {TargetUser: name}),
        call('admin/dispatcher/list-active', {UserNameFilter: name}),
        call('admin/get-jobs-for-user', {TargetUser: name}),
      ]);
      body.replaceChildren(...userSections(name, profile, live, jobs, load));
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  };
  const toList = async () => { location.hash = '#/users'; };
  view.replaceChildren(
    h('p', {class: 'crumbs'}, h('a', {href: '#/users'}, 'Users'), ' / ', name),
    pageHead(name,
             button('Request Storage Vault…', () => requestVault(name, load)),
             button('Reset password…', () => resetPassword(name)),
             button('Delete user…', () => deleteUser(name, toList), 'danger'),
             button('Refresh', load, 'secondary')),
    body);
  await load();
}

function userSections(name, p, live, jobs, reload) {
  const online = new Set(Object.values(live).map(c => c.DeviceID));
  const sources = p.Sources ?? {};
  const vaults = p.Destinations ?? {};
  const devices = p.Devices ?? {};
  const sourceName = id => sources[id]?.Description || id || '—';
  const vaultName = id => vaults[id]?.Description || id || '—';
  const deviceName = id => devices[id]?.FriendlyName || id || '—';
  const yes = b => (b ? 'yes' : 'no');
  const revoke = (id, d) => revokeDevice(name, id, d.FriendlyName || id, reload);

  return [
    card('Profile', facts([
      ['Account name', p.AccountName || '—'],
      ['Created', time(p.CreateTime)],
      ['Emails', (p.Emails ?? []).join(', ') || '—'],
      ['Suspended', yes(p.IsSuspended)],
      ['Password reset by administrators',
       p.PasswordRecovery ? 'possible (recovery code kept)' : 'not possible (no recovery code)'],
      ['Password change required', yes(p.RequirePasswordChange)],
      ['Maximum devices', p.MaximumDevices ? String(p.MaximumDevices) : 'unlimited'],
    ])),
    card('Devices', table(entries(devices), [
      {title: 'Name', cell: ([, d]) => d.FriendlyName || '—'},
      {title: 'Device ID', cell: ([id]) => h('code', {}, id), class: 'ellipsis'},
      {title: 'Platform', cell: ([, d]) => platform(d.PlatformVersion)},
      {title: 'Client version', cell: ([, d]) => d.ClientVersion || '—'},
      {title: 'Registered', cell: ([, d]) => time(d.RegistrationTime), class: 'nowrap'},
      {title: 'Online',
       cell: ([id]) => (online.has(id) ? badge('online', 'ok') : badge('offline', 'muted'))},
      {title: '', class: 'row-actions',
       cell: ([id, d]) => button('Revoke', () => revoke(id, d), 'small danger')},
    ], {empty: 'No device is registered to this account.',
        rowProps: ([id]) => ({dataset: {device: id}})})),
    card('Storage Vaults', table(entries(vaults), [
      {title: 'Name', cell: ([, v]) => v.Description || '—'},
      {title: 'Type', cell: ([, v]) => destinationTypeName(v.DestinationType)},
      {title: 'Location', cell: ([, v]) => vaultLocation(v), class: 'ellipsis'},
      {title: 'Initialized', class: 'nowrap',
       cell: ([, v]) => (v.RepoInitTimestamp ? time(v.RepoInitTimestamp) : 'not yet')},
      {title: 'Size', cell: ([, v]) => bytes(v.Statistics?.ClientProvidedSize?.Size), class: 'num'},
      {title: 'Quota', class: 'num',
       cell: ([, v]) => (v.StorageLimitEnabled ? bytes(v.StorageLimitBytes) : 'none')},
    ], {empty: 'No Storage Vault yet.', rowProps: ([id]) => ({dataset: {vault: id}})})),
    card('Protected Items', table(entries(sources), [
      {title: 'Name', cell: ([, s]) => s.Description || '—'},
      {title: 'Type', cell: ([, s]) => engineName(s.Engine)},
      {title: 'Device', cell: ([, s]) => deviceName(s.OwnerDevice)},
      {title: 'Last backup', cell: ([, s]) => lastJob(s.Statistics?.LastBackupJob)},
    ], {empty: 'No Protected Item yet.'})),
    card('Schedules', table(entries(p.BackupRules), [
      {title: 'Name', cell: ([, r]) => r.Description || '—'},
      {title: 'Protected Item', cell: ([, r]) => sourceName(r.Source)},
      {title: 'Storage Vault', cell: ([, r]) => vaultName(r.Destination)},
      {title: 'When', cell: ([, r]) => when(r)},
    ], {empty: 'No schedule yet.'})),
    card('Jobs', jobsTable(jobs, {showUser: false, reload})),
  ];
}

function platform(v) {
  if (!v || typeof v !== 'object') return '—';
  const os = [v.os, v.arch].filter(Boolean).join('/');
  const dist = [v.distribution, v.version].filter(Boolean).join(' ');
  return [os, dist].filter(Boolean).join(', ') || '—';
}

// Where a Storage Vault's data is, by type; never a key or password.
function vaultLocation(v) {
  switch (v.DestinationType) {
    case 1003:
      return `${v.CometServer ?? ''} · bucket ${v.CometBucket ?? ''}`;
    case 1000:
      return [v.S3Server, v.S3BucketName, v.S3Subdir].filter(Boolean).join('/') || '—';
    case 1001:
      return `${v.SFTPUsername ? `${v.SFTPUsername}@` : ''}${v.SFTPServer ?? ''}:` +
             `${v.SFTPRemotePath ?? ''}`;
    case 1002:
      return v.LocalcopyPath || '—';
    default:
      return '—';
  }
}

function when(rule) {
  const parts = (rule.Schedules ?? []).map(s =>
    FREQUENCY[s.FrequencyType] ?? `frequency ${s.FrequencyType}`);
  if (rule.EventTriggers?.OnPCBoot) parts.push('at boot');
  return parts.length ? parts.join(', ') : 'manual only';
}

async function revokeDevice(user, id, label, reload) {
  const done = await confirmAction({
    title: 'Revoke device',
    message: `Revoke ${label}? It loses access to ${user}'s account and its live connection ` +
             'is closed.',
    label: 'Revoke device',
    action: () => call('admin/revoke-device', {TargetUser: user, TargetDevice: id}),
  });
  if (done) {
    notify(`Device ${label} was revoked.`);
    await reload();
  }
}

async function requestVault(user, reload) {
  let providers;
  try {
    providers = Object.entries(await call('admin/request-storage-vault-providers'));
  } catch (e) {
    reportError(e);
    return;
  }
  const option = ([id, description]) => [id, description ? `${description} (${id})` : id];
  const fields = providers.length
    ? [select('Storage Template', {name: 'provider', required: true}, providers.map(option))]
    : [h('p', {class: 'error'}, 'No Storage Template is configured ' +
         '(AuthenticationRole.RemoteStorage in halleyd.cfg).')];
  const id = await dialog({
    title: `Request a Storage Vault for ${user}`,
    submitLabel: 'Request Storage Vault',
    fields,
    submit: async form => {
      if (!providers.length) throw new Error('There is no Storage Template to request from.');
      const reply = await call('admin/request-storage-vault',
                               {TargetUser: user, StorageProvider: form.elements.provider.value});
      return reply.DestinationID;
    },
  });
  if (id) {
    notify(`Storage Vault ${id} was added to ${user}'s profile.`);
    await reload();
  }
}

async function resetPassword(user) {
  const done = await dialog({
    title: `Reset ${user}'s password`,
    submitLabel: 'Reset password',
    fields: [
      h('p', {class: 'muted'}, 'Possible only for accounts that keep a recovery code. The ' +
        'user\'s web sessions end; devices log in again with the new password.'),
      newPassword('New password', 'password'),
      newPassword('Repeat password', 'password2'),
    ],
    submit: async form => {
      const f = form.elements;
      if (f.password.value !== f.password2.value) throw new Error('The passwords differ.');
      await call('admin/reset-user-password', {TargetUser: user, NewPassword: f.password.value});
    },
  });
  if (done) notify(`${user}'s password was reset.`);
}
