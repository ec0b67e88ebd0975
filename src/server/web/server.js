// SPDX-License-Identifier: Apache-2.0
//
// The Storage page (admin/storage/list-buckets, free-space, bucket-properties) and the Server
// page (admin/meta/version, a read-only view of admin/meta/server-config/get with secrets
// masked).

import {call} from './api.js';
import {badge, button, card, errorBox, facts, h, pageHead, table} from './dom.js';
import {bytes, maskSecrets, time} from './format.js';

const KEY_FORMAT = {0: 'plaintext', 1: 'bcrypt', 2: 'bcrypt of SHA-512'};
const loading = () => h('div', {}, h('p', {class: 'muted'}, 'Loading…'));

export async function renderStorage(view) {
  const space = loading();
  const buckets = loading();
  const showBuckets = list => {
    const rows = Object.entries(list)
                     .sort(([, a], [, b]) => (b.CreateTime ?? 0) - (a.CreateTime ?? 0));
    buckets.replaceChildren(
      h('p', {class: 'muted'}, rows.length === 1 ? '1 bucket' : `${rows.length} buckets`),
      table(rows, [
        {title: 'Bucket', cell: ([id]) => h('code', {}, id)},
        {title: 'Organization', cell: ([, b]) => b.OrganizationID || '—'},
        {title: 'Created', cell: ([, b]) => time(b.CreateTime), class: 'nowrap'},
        {title: 'Key hash',
         cell: ([, b]) => KEY_FORMAT[b.ReadWriteKeyFormat] ?? String(b.ReadWriteKeyFormat)},
        {title: 'Storage limit', class: 'num',
         cell: ([, b]) => (b.StorageLimitBytes ? bytes(b.StorageLimitBytes) : 'none')},
        {title: 'Size', class: 'num', cell: ([id]) => {
          const cell = h('span', {});
          cell.append(button('Measure', () => measure(id, cell), 'small secondary'));
          return cell;
        }},
      ], {empty: 'No bucket yet.', rowProps: ([id]) => ({dataset: {bucket: id}})}));
  };
  const load = () => Promise.all([
    call('admin/storage/free-space').then(s => space.replaceChildren(freeSpace(s)),
                                          e => space.replaceChildren(errorBox(e))),
    call('admin/storage/list-buckets').then(showBuckets,
                                            e => buckets.replaceChildren(errorBox(e))),
  ]);
  view.replaceChildren(pageHead('Storage', button('Refresh', load, 'secondary')),
                       card('Free space', space), card('Buckets', buckets));
  await load();
}

function freeSpace(s) {
  if (s.Unlimited) {
    return h('p', {}, 'The Storage Role keeps its buckets on object storage: no limit is known.');
  }
  const used = Number(s.UsedPercent ?? 0);
  const parts = [
    h('div', {class: 'meter-row'},
      h('meter', {min: 0, max: 100, low: 70, high: 90, optimum: 0, value: used.toFixed(1)}),
      h('span', {}, `${used.toFixed(1)} % used, ${bytes(s.AvailableBytes)} available`)),
  ];
  const targets = s.Spanned?.Targets ?? [];
  if (targets.length) {
    parts.push(table(targets, [
      {title: 'Volume', cell: t => String(targets.indexOf(t) + 1)},
      {title: 'Used', cell: t => `${Number(t.UsedPercent ?? 0).toFixed(1)} %`, class: 'num'},
      {title: 'Available', cell: t => bytes(t.AvailableBytes), class: 'num'},
    ]));
  }
  return h('div', {}, parts);
}

async function measure(id, cell) {
  cell.replaceChildren('measuring…');
  try {
    const p = await call('admin/storage/bucket-properties', {BucketID: id});
    cell.replaceChildren(bytes(p.Size?.Size));
  } catch (e) {
    cell.replaceChildren(h('span', {class: 'error-text'}, e.message));
  }
}

export async function renderServer(view) {
  const about = loading();
  const config = loading();
  const role = on => badge(on ? 'on' : 'off', on ? 'ok' : 'muted');
  const showConfig = c => config.replaceChildren(
    h('p', {class: 'muted'}, 'halleyd.cfg as the server holds it, read-only; passwords, keys ' +
      'and secrets are masked. Edit it with admin/meta/server-config/set or on the server.'),
    h('pre', {class: 'config'}, JSON.stringify(maskSecrets(c), null, 2)));
  const load = () => Promise.all([
    call('admin/meta/version').then(v => about.replaceChildren(facts([
      ['Version', v.Version || '—'],
      ['Running since', time(v.ServerStartTime)],
      ['Authentication Role', role(v.AuthenticationRole)],
      ['Storage Role', role(v.StorageRole)],
    ])), e => about.replaceChildren(errorBox(e))),
    call('admin/meta/server-config/get').then(showConfig,
                                              e => config.replaceChildren(errorBox(e))),
  ]);
  view.replaceChildren(pageHead('Server', button('Refresh', load, 'secondary')),
                       card('About this server', about), card('Configuration', config));
  await load();
}
