// SPDX-License-Identifier: Apache-2.0
//
// The public JSON API (docs/server.md "The API"), as every other client uses it: POST
// /api/v1/<endpoint> with form fields. After sign-in the admin's session key (never the
// password) is kept in sessionStorage, so it lives as long as the browser tab.

const STORAGE_KEY = 'halley.admin.session';

// A failed call: `status` is the HTTP status (0 when the server could not be reached),
// `message` the server's Message. `expired` is set when the session ended, which the app
// answers by showing the sign-in form (so pages need not report it again).
export class ApiError extends Error {
  constructor(status, message, endpoint) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.endpoint = endpoint;
    this.expired = false;
  }
}

let expiredHandler = () => {};

// `handler(message)` runs when a call finds that the session is no longer valid.
export function onSessionExpired(handler) {
  expiredHandler = handler;
}

export function currentSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    return s && typeof s.username === 'string' && typeof s.key === 'string' ? s : null;
  } catch {
    return null;
  }
}

function endSession() {
  sessionStorage.removeItem(STORAGE_KEY);
}

// Sign-out: the server ends the session too, so a copied key stops working at once. The key
// is forgotten here even if the server cannot be reached.
export async function signOut() {
  const session = currentSession();
  endSession();
  if (!session) return;
  try {
    await post('admin/account/session-revoke',
               {Username: session.username, AuthType: 'SessionKey', SessionKey: session.key});
  } catch {
    // Expired already, or the server is down: the key is gone from this browser either way.
  }
}

// Non-string values are JSON-encoded, as the API expects (reference: comet.md §2.1).
function encode(fields) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    body.append(name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return body;
}

async function post(endpoint, fields) {
  let res;
  try {
    res = await fetch(`/api/v1/${endpoint}`, {
      method: 'POST',
      headers: {'Content-Type': 'application/x-www-form-urlencoded'},
      body: encode(fields),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, `The server cannot be reached (${e.message})`, endpoint);
  }
  const text = await res.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    // An answer that is not JSON is reported below.
  }
  // The HTTP status is the reply's Status (a job's own "Status" field is not an error).
  if (!res.ok) {
    const message = data && typeof data.Message === 'string' && data.Message !== ''
        ? data.Message : `HTTP ${res.status} ${res.statusText}`.trim();
    throw new ApiError(res.status, message, endpoint);
  }
  if (data === null) {
    throw new ApiError(res.status, 'The server sent an answer that is not JSON', endpoint);
  }
  return data;
}

// Signs in with an admin's password; only the session key it returns is kept.
export async function signIn(username, password) {
  const reply = await post('admin/account/session-start',
                           {Username: username, AuthType: 'Password', Password: password});
  if (typeof reply.SessionKey !== 'string' || reply.SessionKey === '') {
    throw new ApiError(500, 'The server sent no session key', 'admin/account/session-start');
  }
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({username, key: reply.SessionKey}));
}

// Calls an admin endpoint with the session key. Throws ApiError with the server's message.
export async function call(endpoint, fields = {}) {
  const session = currentSession();
  if (!session) {
    const e = new ApiError(401, 'You are not signed in.', endpoint);
    e.expired = true;
    expiredHandler('Sign in to continue.');
    throw e;
  }
  const auth = {Username: session.username, AuthType: 'SessionKey', SessionKey: session.key};
  try {
    return await post(endpoint, {...fields, ...auth});
  } catch (e) {
    // 401 may also come from a device (dispatcher calls pass its answer on): the session has
    // ended only if a plain call with it fails too.
    if (e.status === 401 && !(await stillValid(auth))) {
      endSession();
      e.expired = true;
      expiredHandler('Your session has expired. Sign in again.');
    }
    throw e;
  }
}

async function stillValid(auth) {
  try {
    await post('admin/meta/version', auth);
    return true;
  } catch (e) {
    return e.status !== 401;
  }
}
