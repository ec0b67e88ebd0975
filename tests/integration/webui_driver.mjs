// SPDX-License-Identifier: Apache-2.0
//
// The browser half of test_webui.py: drives Debian's Chromium (headless, through
// playwright-core from tests/node, which downloads no browser) through halleyd's web admin UI.
//
// Input by environment (never argv: passwords): HALLEY_URL, HALLEY_ADMIN_USER,
// HALLEY_ADMIN_PASSWORD, HALLEY_NEW_USER, HALLEY_NEW_PASSWORD, HALLEY_RESET_PASSWORD,
// HALLEY_JOB_USER, HALLEY_JOB_PASSWORD, HALLEY_JOB_DONE, HALLEY_JOB_RUNNING,
// HALLEY_LOBBY_DEVICE (a device waiting in the lobby), HALLEY_LOG_MESSAGE, HALLEY_VERSION,
// HALLEY_ARTIFACTS (a directory for a screenshot on failure), HALLEY_CHROMIUM (default
// /usr/bin/chromium).
//
// Output: one JSON object per line on stdout: {"event":"step","name":...} for every check that
// passed; {"event":"checkpoint","name":...} where the test checks the server through the API,
// after which the driver waits for "ok" on stdin; {"event":"done","assertions":N} at the end,
// or {"event":"failed","message":...} and exit status 1.

import {mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import readline from 'node:readline';

const require = createRequire(new URL('../node/package.json', import.meta.url));
const {chromium} = require('playwright-core');

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const BASE = env('HALLEY_URL');
const ADMIN = env('HALLEY_ADMIN_USER');
const ADMIN_PASSWORD = env('HALLEY_ADMIN_PASSWORD');
const NEW_USER = env('HALLEY_NEW_USER');
const NEW_PASSWORD = env('HALLEY_NEW_PASSWORD');
const RESET_PASSWORD = env('HALLEY_RESET_PASSWORD');
const JOB_USER = env('HALLEY_JOB_USER');
const JOB_DONE = env('HALLEY_JOB_DONE');
const JOB_RUNNING = env('HALLEY_JOB_RUNNING');
const JOB_PASSWORD = env('HALLEY_JOB_PASSWORD');
const LOBBY_DEVICE = env('HALLEY_LOBBY_DEVICE');
const LOG_MESSAGE = env('HALLEY_LOG_MESSAGE');
const VERSION = env('HALLEY_VERSION');
const ARTIFACTS = process.env.HALLEY_ARTIFACTS ?? '';
const CHROMIUM = process.env.HALLEY_CHROMIUM || '/usr/bin/chromium';
const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const emit = event => process.stdout.write(`${JSON.stringify(event)}\n`);
const lines = readline.createInterface({input: process.stdin})[Symbol.asyncIterator]();
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
// A CSS attribute value: JSON's string escapes are CSS's.
const attr = (name, value) => `[${name}=${JSON.stringify(value)}]`;

let assertions = 0;

function check(condition, what, detail = '') {
  if (!condition) throw new Error(`${what}${detail ? `: ${detail}` : ''}`);
  assertions++;
  emit({event: 'step', name: what});
}

// Lets the Python side check the server through the API before the UI goes on.
async function checkpoint(name) {
  emit({event: 'checkpoint', name});
  const {value, done} = await lines.next();
  if (done || value.trim() !== 'ok') {
    throw new Error(`the test stopped at checkpoint ${name}: ${value ?? 'EOF'}`);
  }
}

// Waits until the text of `locator` matches `re`.
async function expectText(locator, re, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    try {
      last = (await locator.textContent({timeout: 1000})) ?? '';
      if (re.test(last)) {
        check(true, what);
        return last;
      }
    } catch {
      // not there yet
    }
    await sleep(100);
  }
  check(false, what, `expected ${re}, found ${JSON.stringify(last)}`);
  return '';
}

async function expectVisible(locator, what) {
  try {
    await locator.waitFor({state: 'visible', timeout: 15000});
  } catch (e) {
    check(false, what, e.message.split('\n')[0]);
  }
  check(true, what);
}

async function expectGone(locator, what) {
  try {
    await locator.waitFor({state: 'detached', timeout: 15000});
  } catch (e) {
    check(false, what, e.message.split('\n')[0]);
  }
  check(true, what);
}

async function run(page, seen) {
  const dialog = page.locator('dialog[open]');
  const button = (scope, name) => scope.getByRole('button', {name, exact: true});
  const section = name => page.locator(`section[aria-label="${name}"]`);
  const row = (name, value, scope = page) => scope.locator(`tr${attr(name, value)}`);
  const nav = name => page.click(`#nav a[data-page=${name}]`);
  const whole = text => new RegExp(`^${escapeRe(text)}$`);
  const submit = () => dialog.locator('button[type=submit]').click();
  const fill = async fields => {
    for (const [name, value] of Object.entries(fields)) {
      await dialog.locator(`input[name=${name}]`).fill(value);
    }
  };
  const signIn = async password => {
    await page.fill('#sign-in-username', ADMIN);
    await page.fill('#sign-in-password', password);
    await page.click('#sign-in-form button[type=submit]');
  };

  // --- the page loads under the strict CSP, without errors ---
  const response = await page.goto(`${BASE}/`, {waitUntil: 'networkidle'});
  check(response.status() === 200, 'GET / answers 200', String(response.status()));
  const headers = response.headers();
  check(headers['content-security-policy'] === CSP, 'the page carries the strict CSP',
        headers['content-security-policy']);
  check(headers['x-frame-options'] === 'DENY' && headers['x-content-type-options'] === 'nosniff' &&
        headers['referrer-policy'] === 'no-referrer',
        'the page carries the other security headers', JSON.stringify(headers));
  await expectVisible(page.locator('#sign-in-form'), 'the modules ran: the sign-in form is shown');
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(background !== 'rgba(0, 0, 0, 0)', 'the stylesheet applies under the CSP', background);
  const early = {...seen, csp: await violations(page)};
  check(early.console.length + early.pageErrors.length + early.csp.length === 0,
        'no console error, exception or CSP violation after loading', JSON.stringify(early));

  // --- a wrong password shows the server's message; the right one signs in ---
  await signIn(`${ADMIN_PASSWORD} but wrong`);
  await expectText(page.locator('#sign-in-error'), /Incorrect authentication credentials/,
                   'a wrong password shows the server\'s message');
  check(await page.locator('#topbar').isHidden(), 'a wrong password does not sign in');
  await signIn(ADMIN_PASSWORD);
  await expectVisible(page.locator('#topbar'), 'signing in shows the navigation bar');
  await expectText(page.locator('#whoami'), whole(ADMIN), 'the bar names the admin');
  check(page.url().endsWith('#/users'), 'signing in opens the Users page', page.url());
  const stored = await page.evaluate(
    () => JSON.stringify({...sessionStorage}) + JSON.stringify({...localStorage}));
  const session = JSON.parse(
    await page.evaluate(() => sessionStorage.getItem('halley.admin.session')) ?? '{}');
  check(typeof session.key === 'string' && session.key.length >= 32 &&
        !stored.includes(ADMIN_PASSWORD), 'only a session key is kept, never the password',
        stored.replaceAll(ADMIN_PASSWORD, '<password>'));

  // --- Users: the existing user, then add one (its name is an HTML injection attempt) ---
  const jobUserRow = row('data-user', JOB_USER);
  await expectVisible(jobUserRow, 'the Users page lists the existing user');
  await expectText(jobUserRow, /Running/, 'the user list shows the last job\'s status');
  await button(page, 'Add user…').click();
  await fill({username: NEW_USER, password: NEW_PASSWORD, password2: NEW_PASSWORD});
  check(await dialog.locator('input[name=recovery]').isChecked(),
        'a recovery code is kept by default');
  await submit();
  await expectGone(dialog, 'the add-user dialog closes on success');
  const newRow = row('data-user', NEW_USER);
  await expectVisible(newRow, 'the new user appears in the list');
  await expectText(newRow.locator('a').first(), whole(NEW_USER),
                   'the user name is shown as text, not markup');
  check(await page.locator('img[src="x"]').count() === 0, 'the name injected no element');
  await checkpoint('user-added');

  // Adding it again fails: the dialog shows the server's message and stays open.
  await button(page, 'Add user…').click();
  await fill({username: NEW_USER, password: NEW_PASSWORD, password2: NEW_PASSWORD});
  await submit();
  await expectText(dialog.locator('.error'), /already exists/,
                   'a refused add-user shows the server\'s message');
  await button(dialog, 'Cancel').click();
  await expectGone(dialog, 'the dialog closes on Cancel');

  // --- the user's page: request a Storage Vault, reset the password ---
  await newRow.locator('a', {hasText: 'Open'}).click();
  await expectText(page.locator('.page-head h1'), whole(NEW_USER), 'the user page opens');
  await expectText(section('Devices'), /No device is registered/, 'the user page lists devices');
  await button(page, 'Request Storage Vault…').click();
  await expectText(dialog.locator('select[name=provider]'), /default-self/,
                   'the Storage Templates are offered');
  await submit();
  await expectGone(dialog, 'the Storage Vault request succeeds');
  const vaults = section('Storage Vaults').locator('tbody tr');
  await expectText(vaults.first(), /Halley server.*bucket/,
                   'the new Storage Vault is listed with its type');
  check(await vaults.count() === 1, 'exactly one Storage Vault', String(await vaults.count()));
  await checkpoint('vault-requested');

  await button(page, 'Reset password…').click();
  await fill({password: RESET_PASSWORD, password2: `${RESET_PASSWORD}x`});
  await submit();
  await expectText(dialog.locator('.error'), /differ/,
                   'mismatched passwords are refused in the dialog');
  await fill({password2: RESET_PASSWORD});
  await submit();
  await expectGone(dialog, 'the password reset succeeds');
  await expectText(page.locator('#notice'), /password was reset/, 'the reset is confirmed');
  await checkpoint('password-reset');

  // --- Jobs: names, sizes, the log, cancel's refusal, a date range ---
  await nav('jobs');
  const done = row('data-job', JOB_DONE);
  await expectVisible(done, 'the finished job is listed');
  await expectText(done.locator('td.status'), /^Success$/, 'its status is shown by name');
  await expectText(done, /Backup/, 'its classification is shown by name');
  await expectText(done.locator('td.size'), /^1\.50 MiB$/, 'its size is human-readable');
  const running = row('data-job', JOB_RUNNING);
  await expectText(running.locator('td.status'), /^Running$/,
                   'the running job is shown as Running');

  await button(done, 'Log').click();
  const log = page.locator('dialog.wide[open]');
  await expectText(log.locator('td.message').first(), /./, 'the log loads');
  const messages = await log.locator('td.message').allTextContents();
  check(messages.includes(LOG_MESSAGE), 'the job\'s log entries are shown verbatim',
        JSON.stringify(messages));
  check(messages.includes('started'), 'every entry is shown', JSON.stringify(messages));
  await expectText(log, /Warning/, 'severities are shown by name');
  check(await log.locator('td.message img, td.message b').count() === 0,
        'log text injected no element');
  await log.locator('select[name=severity]').selectOption('W');
  await expectText(log.locator('tbody'), /^(?!.*started).*Warning/,
                   'the severity filter asks the server again');
  await button(log, 'Close').click();
  await expectGone(log, 'the log closes');

  await button(running, 'Cancel').click();
  await submit();
  await expectText(dialog.locator('.error'), /CancellationID/,
                   'a refused cancel shows the server\'s message');
  await button(dialog, 'Cancel').click();
  await expectGone(dialog, 'the cancel dialog closes');

  await page.locator('select[name=mode]').selectOption('range');
  await expectText(page.locator('.view > div').last(), /jobs/, 'the date range loads');
  await expectVisible(done, 'the date range lists the job');
  await page.locator('select[name=mode]').selectOption('all');
  await expectVisible(running, 'all jobs lists the running job');

  // --- Devices online: register the device waiting in the lobby, act on its connection ---
  await nav('devices');
  await expectText(section('Connected devices'), /No device is connected/,
                   'the Devices page loads the live connections');
  const waiting = row('data-device', LOBBY_DEVICE, section('Registration lobby'));
  await expectVisible(waiting, 'the lobby lists the waiting device');
  await button(waiting, 'Register…').click();
  await dialog.locator('select[name=user]').selectOption(JOB_USER);
  await fill({password: JOB_PASSWORD});
  await submit();
  await expectGone(dialog, 'the device registers with the account');
  await expectText(page.locator('#notice'), /was registered/, 'the registration is confirmed');
  await checkpoint('device-registered');

  await button(page, 'Refresh').click();
  const live = row('data-device', LOBBY_DEVICE, section('Connected devices'));
  await expectVisible(live, 'the registered device is online');
  await expectText(live.locator('td').first(), whole(JOB_USER), 'its connection names the account');
  await expectText(section('Registration lobby'), /No device is waiting/,
                   'the lobby is empty again');
  await button(live, 'Refetch profile').click();
  await expectText(page.locator('#notice'), /fetched its profile again/,
                   'the device refetches its profile');
  await button(live, 'Run backup…').click();
  await expectText(dialog, /has no schedule for this device/,
                   'run-backup offers the device\'s schedules (none)');
  await button(dialog, 'Cancel').click();
  await expectGone(dialog, 'the run-backup dialog closes');
  const connection = await live.getAttribute('data-connection');
  await button(live, 'Disconnect').click();
  await submit();
  await expectGone(row('data-connection', connection), 'the dropped connection leaves the list');
  await checkpoint('device-dispatched');

  // --- Storage, Server ---
  await nav('storage');
  const bucket = page.locator('tr[data-bucket]');
  await expectVisible(bucket.first(), 'the Storage page lists the vault\'s bucket');
  check(await bucket.count() === 1, 'one bucket', String(await bucket.count()));
  await expectText(section('Free space'), /% used, .* available/, 'free space is shown');
  await button(bucket, 'Measure').click();
  await expectText(bucket.locator('td').last(), /^\d+(\.\d+)? (B|KiB|MiB)$/,
                   'a bucket is measured');

  await nav('server');
  await expectText(section('About this server'), new RegExp(escapeRe(VERSION)),
                   'the Server page shows the version');
  const config = await expectText(page.locator('pre.config'), /AdminUsers/,
                                  'the configuration is shown');
  check(!/\$2[aby]\$/.test(config) && config.includes('••••••••'), 'password hashes are masked',
        config.slice(0, 400));

  // --- delete the user from its row ---
  await nav('users');
  await expectVisible(newRow, 'back on the Users page');
  await button(newRow, 'Delete').click();
  await expectText(dialog, /Delete the account/, 'deleting asks first');
  await submit();
  await expectGone(newRow, 'the deleted user leaves the list');
  await checkpoint('user-deleted');

  // --- an ended session returns to the sign-in form; signing in again resumes ---
  await nav('jobs');
  await expectVisible(done, 'on the Jobs page');
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('halley.admin.session'));
    sessionStorage.setItem('halley.admin.session', JSON.stringify({...s, key: `${s.key}-ended`}));
  });
  await button(page, 'Refresh').click();
  await expectVisible(page.locator('#sign-in-form'), 'an ended session shows the sign-in form');
  await expectText(page.locator('#sign-in-info'), /session has expired/,
                   'it says the session expired');
  check(await page.locator('#notice').isHidden(), 'the expiry is not also reported as an error');
  await signIn(ADMIN_PASSWORD);
  await expectVisible(done, 'signing in again returns to the Jobs page');

  // --- sign out ---
  const ended = JSON.parse(await page.evaluate(
    () => sessionStorage.getItem('halley.admin.session')));
  await page.click('#sign-out');
  await expectVisible(page.locator('#sign-in-form'), 'signing out shows the sign-in form');
  check(await page.evaluate(() => sessionStorage.length) === 0,
        'signing out forgets the session key');
  const after = await fetch(`${BASE}/api/v1/admin/meta/version`, {
    method: 'POST',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({Username: ended.username, AuthType: 'SessionKey',
                               SessionKey: ended.key}),
  });
  check(after.status === 401, `the server ended the session (a call with its key: ${after.status})`);
  await page.reload({waitUntil: 'networkidle'});
  await expectVisible(page.locator('#sign-in-form'),
                      'after a reload the admin is still signed out');

  // --- nothing went wrong on the way ---
  check(seen.pageErrors.length === 0, 'no uncaught exception', JSON.stringify(seen.pageErrors));
  check(seen.dialogs.length === 0, 'no alert or native dialog opened',
        JSON.stringify(seen.dialogs));
  const csp = await violations(page);
  check(csp.length === 0, 'no CSP violation', JSON.stringify(csp));
  // The only console errors allowed are the browser's notes on the API calls this test made
  // fail on purpose (wrong password, duplicate user, refused cancel, ended session).
  const expected = /^Failed to load resource: the server responded with a status of (400|401|403)/;
  const unexpected = seen.console.filter(m => !expected.test(m));
  check(unexpected.length === 0, 'no unexpected console error', JSON.stringify(unexpected));
  return seen.console.length;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// CSP violations the page reported (recorded by the init script below).
function violations(page) {
  return page.evaluate(() => window.__cspViolations ?? []);
}

async function main() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'halley-webui-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: {width: 1280, height: 900},
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(15000);
    const seen = {console: [], pageErrors: [], dialogs: []};
    page.on('console', m => { if (m.type() === 'error') seen.console.push(m.text()); });
    page.on('pageerror', e => seen.pageErrors.push(String(e)));
    page.on('dialog', d => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    // Playwright's init scripts are exempt from the page's CSP.
    await page.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', e => {
        window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    let expectedErrors;
    try {
      expectedErrors = await run(page, seen);
    } catch (e) {
      if (ARTIFACTS) {
        const path = join(ARTIFACTS, 'webui-failure.png');
        await page.screenshot({path, fullPage: true}).catch(() => {});
      }
      throw e;
    }
    emit({event: 'done', assertions, expected_console_errors: expectedErrors});
  } finally {
    await context?.close().catch(() => {});
    rmSync(userDataDir, {recursive: true, force: true});
  }
}

main().then(() => process.exit(0), e => {
  emit({event: 'failed', message: e.message, assertions});
  process.exit(1);
});
