// SPDX-License-Identifier: Apache-2.0
//
// Names for the product's numeric constants (reference: comet.md §2.5, §3.2, §3.5; the server's
// src/server/jobs.h) and human-readable sizes and times.

export const JOB_STATUS = {
  5000: 'Success',
  6000: 'Running',
  6001: 'Running',
  6002: 'Revived',
  6003: 'Retrying',
  6004: 'Not yet started',
  7000: 'Timeout',
  7001: 'Warning',
  7002: 'Error',
  7003: 'Quota exceeded',
  7004: 'Missed',
  7005: 'Cancelled',
  7006: 'Already running',
  7007: 'Abandoned',
};

export const JOB_CLASSIFICATION = {
  4000: 'Unknown',
  4001: 'Backup',
  4002: 'Restore',
  4003: 'Retention',
  4004: 'Unlock',
  4005: 'Delete snapshot',
  4006: 'Re-measure',
  4007: 'Update',
  4008: 'Import',
  4009: 'Reindex',
  4010: 'Deep verify',
  4011: 'Uninstall',
};

export const DESTINATION_TYPE = {
  1000: 'S3-compatible',
  1001: 'SFTP',
  1002: 'Local path',
  1003: 'Halley server',
  1004: 'FTP',
  1005: 'Azure Blob',
  1006: 'Spanned',
  1007: 'OpenStack Swift',
  1008: 'Backblaze B2',
  1009: 'Storj',
  1010: 'WebDAV',
  1011: 'SMB',
};

export const ENGINE = {
  'engine1/file': 'Files and Folders',
  'engine1/stdout': 'Program Output',
  'engine1/mysql': 'MySQL',
  'engine1/mssql': 'Microsoft SQL Server',
  'engine1/mongodb': 'MongoDB',
  'engine1/exchangeedb': 'Microsoft Exchange',
  'engine1/vsswriter': 'Application-Aware Writer',
  'engine1/systemstate': 'Windows System State',
  'engine1/windowssystem': 'Windows System Backup',
  'engine1/windisk': 'Disk Image',
  'engine1/hyperv': 'Hyper-V',
  'engine1/vmware': 'VMware',
  'engine1/proxmox': 'Proxmox',
  'engine1/winmsofficemail': 'Office 365',
};

export const FREQUENCY = {
  8010: 'once',
  8011: 'daily',
  8012: 'hourly',
  8013: 'weekly',
  8014: 'monthly',
  8015: 'periodic',
  8016: 'yearly',
};

export const SEVERITY = {D: 'Debug', I: 'Info', W: 'Warning', E: 'Error'};

function named(table, code) {
  return table[code] ?? `Unknown (${code})`;
}

export const statusName = code => named(JOB_STATUS, code);
export const classificationName = code => named(JOB_CLASSIFICATION, code);
export const destinationTypeName = code => named(DESTINATION_TYPE, code);
export const engineName = engine => ENGINE[engine] ?? (engine || 'Unknown');

export function isRunning(status) {
  return status >= 6000 && status < 7000;
}

// The badge colour of a job status: 5xxx ok, 6xxx running, 7001 warning, other 7xxx failed.
export function statusKind(status) {
  if (status >= 5000 && status < 6000) return 'ok';
  if (isRunning(status)) return 'running';
  if (status === 7001 || status === 7006) return 'warn';
  return 'bad';
}

export function severityKind(severity) {
  return {E: 'bad', W: 'warn', I: 'info', D: 'muted'}[severity] ?? '';
}

// 1536 -> "1.5 KiB" (binary units, as the clients report sizes).
export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

export function count(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

const pad = n => String(n).padStart(2, '0');

// Unix seconds -> "2026-11-27 10:31:58" in the browser's time zone; 0 -> "—".
export function time(unix) {
  if (typeof unix !== 'number' || unix <= 0) return '—';
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// Seconds -> "1 h 02 min", "3 min 05 s", "12 s".
export function duration(seconds) {
  if (typeof seconds !== 'number' || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor(s % 3600 / 60))} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor(s % 86400 / 3600)} h`;
}

// A job's run time: end - start, or so far for a running job.
export function jobDuration(job) {
  if (!job.StartTime) return '—';
  const end = job.EndTime || Date.now() / 1000;
  return duration(end - job.StartTime);
}

// Server configuration values under these names are secrets: shown masked.
const SECRET_NAME = new RegExp([
  'pass(word|phrase)', 'secret', 'token', 'private.?key', 'api.?key', 'access.?key',
  'account.?key', 'readwritekey', '^key$',
].join('|'), 'i');

// A deep copy of `value` with every non-empty string under a secret-looking name masked.
export function maskSecrets(value) {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, v]) => {
      const secret = SECRET_NAME.test(name) && typeof v === 'string' && v !== '';
      return [name, secret ? '••••••••' : maskSecrets(v)];
    }));
  }
  return value;
}
