// SPDX-License-Identifier: Apache-2.0
//
// Devices online (admin/dispatcher/list-active) with the dispatcher actions an admin uses
// daily (run-backup, refetch-profile, drop-connection), and the registration lobby
// (admin/installation/list-active, admin/installation/dispatch/register-device).

import {call} from './api.js';
import {button, card, confirmAction, dialog, errorBox, field, h, notify, pageHead, reportError,
        select, table} from './dom.js';
import {time} from './format.js';

const userLink = name => h('a', {href: `#/users/${encodeURIComponent(name)}`}, name);
const platform = c =>
  [c.ReportedPlatform, c.ReportedPlatformVersion].filter(Boolean).join(' · ') || '—';
const byTime = ([, a], [, b]) => (a.ConnectionTime ?? 0) - (b.ConnectionTime ?? 0);
const loading = () => h('div', {}, h('p', {class: 'muted'}, 'Loading…'));

export async function renderDevices(view) {
  const connected = loading();
  const lobby = loading();
  const showConnected = list => connected.replaceChildren(table(Object.entries(list).sort(byTime), [
    {title: 'User', cell: ([, c]) => userLink(c.Username)},
    {title: 'Device', cell: ([, c]) => h('code', {}, c.DeviceID), class: 'ellipsis'},
    {title: 'Version', cell: ([, c]) => c.ReportedVersion || '—'},
    {title: 'Platform', cell: ([, c]) => platform(c)},
    {title: 'Time zone', cell: ([, c]) => c.DeviceTimeZone || '—'},
    {title: 'Address', cell: ([, c]) => c.IPAddress || '—'},
    {title: 'Connected since', cell: ([, c]) => time(c.ConnectionTime), class: 'nowrap'},
    {title: '', class: 'row-actions', cell: ([id, c]) => [
      button('Run backup…', () => runBackup(id, c), 'small'),
      button('Refetch profile', () => refetch(id, c), 'small secondary'),
      button('Disconnect', () => drop(id, c, load), 'small danger'),
    ]},
  ], {empty: 'No device is connected.',
      rowProps: ([id, c]) => ({dataset: {connection: id, device: c.DeviceID}})}));
  const showLobby = list => lobby.replaceChildren(table(Object.entries(list).sort(byTime), [
    {title: 'Name', cell: ([, c]) => c.FriendlyName || '—'},
    {title: 'Device', cell: ([, c]) => h('code', {}, c.DeviceID), class: 'ellipsis'},
    {title: 'Version', cell: ([, c]) => c.ReportedVersion || '—'},
    {title: 'Platform', cell: ([, c]) => platform(c)},
    {title: 'Address', cell: ([, c]) => c.IPAddress || '—'},
    {title: 'Waiting since', cell: ([, c]) => time(c.ConnectionTime), class: 'nowrap'},
    {title: '', class: 'row-actions',
     cell: ([, c]) => button('Register…', () => register(c, load), 'small')},
  ], {empty: 'No device is waiting to be registered.',
      rowProps: ([, c]) => ({dataset: {device: c.DeviceID}})}));
  const load = () => Promise.all([
    call('admin/dispatcher/list-active').then(showConnected,
                                              e => connected.replaceChildren(errorBox(e))),
    call('admin/installation/list-active').then(showLobby,
                                                e => lobby.replaceChildren(errorBox(e))),
  ]);
  view.replaceChildren(
    pageHead('Devices online', button('Refresh', load, 'secondary')),
    card('Connected devices', connected),
    card('Registration lobby',
         h('p', {class: 'muted'}, 'New machines started with "backup-tool login join-lobby" ' +
           'wait here until an administrator assigns them to an account.'),
         lobby));
  await load();
}

async function runBackup(target, conn) {
  let profile;
  try {
    profile = await call('admin/get-user-profile', {TargetUser: conn.Username});
  } catch (e) {
    reportError(e);
    return;
  }
  const sources = profile.Sources ?? {};
  const vaults = profile.Destinations ?? {};
  // The device's own schedules: those of Protected Items it owns (or that name no device).
  const rules = Object.entries(profile.BackupRules ?? {}).filter(([, r]) => {
    const owner = sources[r.Source]?.OwnerDevice;
    return !owner || owner === conn.DeviceID;
  });
  const label = ([id, r]) => {
    const item = sources[r.Source]?.Description || r.Source;
    const vault = vaults[r.Destination]?.Description || r.Destination;
    return `${r.Description || id}: ${item} → ${vault}`;
  };
  const answer = await dialog({
    title: `Run a backup on ${conn.DeviceID}`,
    submitLabel: 'Run now',
    fields: rules.length
      ? [select('Schedule', {name: 'rule', required: true}, rules.map(r => [r[0], label(r)]))]
      : [h('p', {class: 'error'}, `${conn.Username} has no schedule for this device.`)],
    submit: form => {
      if (!rules.length) throw new Error('There is no schedule to run.');
      return call('admin/dispatcher/run-backup',
                  {TargetID: target, BackupRule: form.elements.rule.value});
    },
  });
  if (answer) {
    const note = answer.Message && answer.Message !== 'OK' ? `: ${answer.Message}` : '.';
    notify(`The device started the backup${note}`);
  }
}

async function refetch(target, conn) {
  try {
    await call('admin/dispatcher/refetch-profile', {TargetID: target});
    notify(`${conn.DeviceID} fetched its profile again.`);
  } catch (e) {
    reportError(e);
  }
}

async function drop(target, conn, reload) {
  const done = await confirmAction({
    title: 'Disconnect device',
    message: `Close ${conn.DeviceID}'s live connection? The device reconnects by itself.`,
    label: 'Disconnect',
    action: () => call('admin/dispatcher/drop-connection', {TargetID: target}),
  });
  if (done) {
    notify(`${conn.DeviceID} was disconnected.`);
    await reload();
  }
}

async function register(conn, reload) {
  let users;
  try {
    users = await call('admin/list-users');
  } catch (e) {
    reportError(e);
    return;
  }
  const fields = users.length ? [
    h('p', {class: 'muted'}, 'The device logs in to the account with this password (which ' +
      'passes through the server, never stored) and registers itself.'),
    select('Account', {name: 'user', required: true}, [...users].sort().map(u => [u, u])),
    field('Account password',
          {name: 'password', type: 'password', required: true, autocomplete: 'off'}),
  ] : [h('p', {class: 'error'}, 'There are no user accounts yet: add one on the Users page.')];
  const done = await dialog({
    title: `Register ${conn.FriendlyName || conn.DeviceID}`,
    submitLabel: 'Register device',
    fields,
    submit: async form => {
      if (!users.length) throw new Error('There is no account to register the device to.');
      await call('admin/installation/dispatch/register-device', {
        DeviceID: conn.DeviceID,
        TargetUser: form.elements.user.value,
        TargetPassword: form.elements.password.value,
      });
    },
  });
  if (done) {
    notify(`${conn.DeviceID} was registered.`);
    await reload();
  }
}
