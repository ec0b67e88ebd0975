// SPDX-License-Identifier: Apache-2.0
//
// halleyd's web admin UI: sign-in, the navigation bar and the pages (one module each), routed
// by the URL's fragment (#/users, #/users/<name>, #/devices, #/jobs, #/storage, #/server).
// It uses the public JSON API only (api.js); docs/server.md "Web admin UI".

import {ApiError, currentSession, onSessionExpired, signIn, signOut as endServerSession} from './api.js';
import {clearNotice, errorBox, h} from './dom.js';
import {renderDevices} from './devices.js';
import {renderJobs} from './jobs.js';
import {renderServer, renderStorage} from './server.js';
import {renderUser, renderUsers} from './users.js';

const ROUTES = [
  [/^#\/users$/, 'users', view => renderUsers(view)],
  [/^#\/users\/(.+)$/, 'users', (view, name) => renderUser(view, decodeURIComponent(name))],
  [/^#\/devices$/, 'devices', view => renderDevices(view)],
  [/^#\/jobs$/, 'jobs', view => renderJobs(view)],
  [/^#\/storage$/, 'storage', view => renderStorage(view)],
  [/^#\/server$/, 'server', view => renderServer(view)],
];

const $ = id => document.getElementById(id);

function showSignIn(info) {
  $('topbar').hidden = true;
  $('page').hidden = true;
  $('page').replaceChildren();
  clearNotice();
  for (const dlg of document.querySelectorAll('dialog')) dlg.close();
  $('sign-in').hidden = false;
  $('sign-in-error').hidden = true;
  $('sign-in-info').textContent = info ?? '';
  $('sign-in-info').hidden = !info;
  $('sign-in-password').value = '';
  $('sign-in-username').focus();
}

function showApp() {
  $('sign-in').hidden = true;
  $('topbar').hidden = false;
  $('page').hidden = false;
  $('whoami').textContent = currentSession()?.username ?? '';
}

async function route() {
  if (!currentSession()) {
    showSignIn();
    return;
  }
  showApp();
  const hash = location.hash;
  const found = ROUTES.map(([re, page, render]) => [hash.match(re), page, render]).find(([m]) => m);
  if (!found) {
    location.replace('#/users');
    return;
  }
  const [match, page, render] = found;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // A fresh view per navigation: a page that finishes loading after the admin went elsewhere
  // writes into a detached element.
  const view = h('div', {class: 'view'});
  $('page').replaceChildren(view);
  try {
    await render(view, ...match.slice(1));
  } catch (e) {
    if (!e?.expired) view.replaceChildren(errorBox(e));
  }
}

async function onSignIn(event) {
  event.preventDefault();
  const form = event.target;
  const error = $('sign-in-error');
  error.hidden = true;
  form.querySelector('button[type=submit]').disabled = true;
  try {
    await signIn($('sign-in-username').value.trim(), $('sign-in-password').value);
    $('sign-in-password').value = '';
    // Back to the page the admin was on (after an expired session), or to Users.
    if (ROUTES.some(([re]) => re.test(location.hash))) {
      await route();
    } else {
      location.replace('#/users');  // routes on hashchange
    }
  } catch (e) {
    error.textContent = e instanceof ApiError ? e.message : `Sign-in failed: ${e.message}`;
    error.hidden = false;
  } finally {
    form.querySelector('button[type=submit]').disabled = false;
  }
}

async function signOut() {
  await endServerSession();
  history.replaceState(null, '', location.pathname);
  showSignIn('You have signed out.');
}

onSessionExpired(message => showSignIn(message));
$('sign-in-form').addEventListener('submit', onSignIn);
$('sign-out').addEventListener('click', signOut);
$('notice-close').addEventListener('click', clearNotice);
window.addEventListener('hashchange', route);
route();
