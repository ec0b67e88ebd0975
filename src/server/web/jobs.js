// SPDX-License-Identifier: Apache-2.0
//
// The Jobs page (admin/get-jobs-recent, admin/get-jobs-for-date-range, admin/get-jobs-all), a
// job's log (admin/get-job-log-entries), and cancelling or abandoning a running job. The job
// table is shared with the user page.

import {call} from './api.js';
import {badge, button, confirmAction, errorBox, field, h, notify, pageHead, select, table,
        viewer} from './dom.js';
import {bytes, classificationName, count, isRunning, jobDuration, SEVERITY, severityKind,
        statusKind, statusName, time} from './format.js';

const byStartDescending = (a, b) => (b.StartTime ?? 0) - (a.StartTime ?? 0);
const userLink = name => h('a', {href: `#/users/${encodeURIComponent(name)}`}, name);
const pad = n => String(n).padStart(2, '0');
const isoDate = d => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;

export function statusBadge(status) {
  return badge(statusName(status), statusKind(status));
}

// A table of jobs, newest first. `reload()` runs after an action changed a job.
export function jobsTable(jobs, {showUser = true, reload} = {}) {
  const columns = [
    {title: 'Started', cell: j => time(j.StartTime), class: 'nowrap'},
    {title: 'Duration', cell: j => jobDuration(j), class: 'nowrap'},
    showUser && {title: 'User', cell: j => userLink(j.Username)},
    {title: 'Type', cell: j => classificationName(j.Classification)},
    {title: 'Status', cell: j => statusBadge(j.Status), class: 'status'},
    {title: 'Device', cell: j => j.DeviceID || '—', class: 'ellipsis'},
    {title: 'Files', cell: j => count(j.TotalFiles), class: 'num'},
    {title: 'Size', cell: j => bytes(j.TotalSize), class: 'num size'},
    {title: 'Uploaded', cell: j => bytes(j.UploadSize), class: 'num'},
    {title: '', cell: j => jobActions(j, reload), class: 'row-actions'},
  ].filter(Boolean);
  return table([...jobs].sort(byStartDescending), columns,
               {empty: 'No jobs.', rowProps: j => ({dataset: {job: j.GUID}})});
}

function jobActions(job, reload) {
  const actions = [button('Log', () => showLog(job), 'small secondary')];
  if (isRunning(job.Status)) {
    actions.push(button('Cancel', () => cancelJob(job, reload), 'small danger'));
    actions.push(button('Abandon', () => abandonJob(job, reload), 'small secondary'));
  }
  return actions;
}

async function cancelJob(job, reload) {
  const done = await confirmAction({
    title: 'Cancel job',
    message: `Ask ${job.Username}'s device to cancel this ` +
             `${classificationName(job.Classification).toLowerCase()} job?`,
    label: 'Cancel job',
    action: () => call('admin/job/cancel', {TargetUser: job.Username, JobID: job.GUID}),
  });
  if (done) {
    notify(`The device was asked to cancel job ${job.GUID}.`);
    reload?.();
  }
}

async function abandonJob(job, reload) {
  const done = await confirmAction({
    title: 'Mark job abandoned',
    message: 'Mark this job abandoned (7007)? Use this for a job whose device stopped ' +
             'reporting; if the device reports again, the job is revived.',
    label: 'Mark abandoned',
    action: () => call('admin/job/abandon', {TargetUser: job.Username, JobID: job.GUID}),
  });
  if (done) {
    notify(`Job ${job.GUID} was marked abandoned.`);
    reload?.();
  }
}

function showLog(job) {
  const entries = h('div', {class: 'log'}, h('p', {class: 'muted'}, 'Loading…'));
  const severity = select('Show', {name: 'severity'}, [
    ['', 'All entries'], ['I', 'Info and above'], ['W', 'Warnings and errors'],
    ['E', 'Errors only'],
  ]);
  const load = async () => {
    try {
      const list = await call('admin/get-job-log-entries', {
        JobID: job.GUID,
        MinSeverity: severity.querySelector('select').value,
      });
      entries.replaceChildren(table(list, [
        {title: 'Time', cell: e => time(e.Time), class: 'nowrap'},
        {title: 'Severity',
         cell: e => badge(SEVERITY[e.Severity] ?? e.Severity, severityKind(e.Severity))},
        {title: 'Message', cell: e => e.Message, class: 'message'},
      ], {empty: 'The log has no entries.'}));
    } catch (e) {
      entries.replaceChildren(errorBox(e));
    }
  };
  severity.querySelector('select').addEventListener('change', load);
  viewer(`${classificationName(job.Classification)} job log`,
    h('div', {class: 'facts-row'},
      h('span', {}, statusBadge(job.Status)),
      h('span', {}, `${job.Username} · started ${time(job.StartTime)} · ${jobDuration(job)}`),
      h('code', {class: 'muted'}, job.GUID)),
    severity, entries);
  load();
}

// --- the page ---

export async function renderJobs(view) {
  const mode = select('Jobs', {name: 'mode'}, [['recent', 'Last 24 hours and running'],
                                                ['range', 'Started or ended between…'],
                                                ['all', 'All']]);
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 7 * 86400 * 1000);
  const from = field('From', {type: 'date', name: 'from', value: isoDate(weekAgo)});
  const to = field('To', {type: 'date', name: 'to', value: isoDate(today)});
  const filter = field('User or device', {type: 'search', name: 'filter', placeholder: 'filter'});
  const range = h('span', {class: 'inline', hidden: true}, from, to);
  const results = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  let jobs = [];

  const show = () => {
    const needle = filter.querySelector('input').value.trim().toLowerCase();
    const shown = needle === '' ? jobs : jobs.filter(j =>
      `${j.Username} ${j.DeviceID}`.toLowerCase().includes(needle));
    results.replaceChildren(h('p', {class: 'muted'}, `${shown.length} of ${jobs.length} jobs`),
                            jobsTable(shown, {reload: load}));
  };
  const load = async () => {
    const m = mode.querySelector('select').value;
    range.hidden = m !== 'range';
    try {
      if (m === 'recent') {
        jobs = await call('admin/get-jobs-recent');
      } else if (m === 'all') {
        jobs = await call('admin/get-jobs-all');
      } else {
        const start = new Date(`${from.querySelector('input').value}T00:00:00`).getTime() / 1000;
        const end = new Date(`${to.querySelector('input').value}T23:59:59`).getTime() / 1000;
        if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error('Choose both dates.');
        jobs = await call('admin/get-jobs-for-date-range',
                          {Start: Math.floor(start), End: Math.floor(end)});
      }
      show();
    } catch (e) {
      jobs = [];
      results.replaceChildren(errorBox(e));
    }
  };
  mode.querySelector('select').addEventListener('change', load);
  from.querySelector('input').addEventListener('change', load);
  to.querySelector('input').addEventListener('change', load);
  filter.querySelector('input').addEventListener('input', show);

  view.replaceChildren(pageHead('Jobs', button('Refresh', load, 'secondary')),
                       h('div', {class: 'toolbar'}, mode, range, filter), results);
  await load();
}
