// Signing in, keeping the access token fresh, and authenticated calls.
//
// Stored as `auth` in chrome.storage.local:
//   {mode: 'password'|'token', baseUrl, access, refresh, accessExp, userId, username, expired}
// Our server's access tokens last 15 minutes: they are refreshed a minute before `exp` (by an alarm, and on
// demand before any call). A pasted Supabase access token cannot be refreshed here; when it expires the
// popup asks for a new one.

import { call } from './api.js';
import { decodeJwt, expiryMs, userIdFromClaims } from './jwt.js';
import * as store from './storage.js';

export const REFRESH_MARGIN_MS = 60_000;
export const REFRESH_ALARM = 'memory-layer-token-refresh';

export async function getAuth() {
  return store.get('auth', null);
}

export function accountKey(auth) {
  return auth ? `${auth.userId}@${auth.baseUrl}` : null;
}

async function saveAuth(auth) {
  await store.set({ auth });
  scheduleRefresh(auth);
  return auth;
}

export function scheduleRefresh(auth) {
  if (!auth || !auth.refresh || !auth.accessExp || !chrome.alarms) return;
  const when = Math.max(Date.now() + 5_000, auth.accessExp - REFRESH_MARGIN_MS);
  chrome.alarms.create(REFRESH_ALARM, { when });
}

/**
 * A user name (or email address) and password, and `otp` (the authenticator app's code or a recovery code) for an
 * account with two-factor sign-in: without it the server answers 401 with `mfa_required`, passed on as `mfaRequired`.
 */
export async function signInWithPassword(baseUrl, username, password, otp = '') {
  const body = otp ? { username, password, otp } : { username, password };
  const result = await call(baseUrl, '/auth/token/', { method: 'POST', body, timeoutMs: 15000 });
  if (!result.ok) {
    const mfaRequired = Boolean(result.data && result.data.mfa_required === true);
    return { ok: false, status: result.status, error: result.error, mfaRequired };
  }
  const { access, refresh } = result.data || {};
  let claims;
  try {
    claims = decodeJwt(access);
  } catch (err) {
    return { ok: false, status: result.status, error: `The server answered without a usable token: ${err.message}` };
  }
  const userId = userIdFromClaims(claims);
  if (!userId) return { ok: false, status: result.status, error: 'The token names no user (no user_id or sub claim).' };
  const auth = await saveAuth({
    mode: 'password',
    baseUrl,
    access,
    refresh: refresh || null,
    accessExp: expiryMs(claims),
    userId,
    username,
    expired: false,
  });
  return { ok: true, auth };
}

/** A pasted access token (a Supabase one, typically): checked with GET /auth/me, which also provisions the user. */
export async function signInWithToken(baseUrl, token) {
  const access = String(token || '').trim();
  let claims;
  try {
    claims = decodeJwt(access);
  } catch (err) {
    return { ok: false, status: 0, error: err.message };
  }
  const exp = expiryMs(claims);
  if (exp && exp <= Date.now()) return { ok: false, status: 0, error: 'This token has already expired.' };
  const me = await call(baseUrl, '/auth/me', { token: access, timeoutMs: 15000 });
  if (!me.ok) return { ok: false, status: me.status, error: me.error };
  const userId = (me.data && me.data.user_id && String(me.data.user_id)) || userIdFromClaims(claims);
  if (!userId) return { ok: false, status: me.status, error: 'The token names no user (no sub or user_id claim).' };
  const auth = await saveAuth({
    mode: 'token',
    baseUrl,
    access,
    refresh: null,
    accessExp: exp,
    userId,
    username: (me.data && (me.data.username || me.data.email)) || claims.email || null,
    expired: false,
  });
  return { ok: true, auth };
}

export async function signOut() {
  const auth = await getAuth();
  await store.remove(['auth', 'serverSettings']);
  if (chrome.alarms) chrome.alarms.clear(REFRESH_ALARM);
  if (auth && auth.refresh) {
    // Best effort: the refresh token can no longer be used. Access tokens simply expire.
    call(auth.baseUrl, '/auth/token/blacklist/', { method: 'POST', body: { refresh: auth.refresh }, timeoutMs: 5000 });
  }
}

let refreshing = null;

/** A new access token from the refresh token (one request at a time); the new auth, or null. */
export function refreshAccess() {
  if (!refreshing) {
    refreshing = (async () => {
      const auth = await getAuth();
      if (!auth || !auth.refresh) return null;
      const result = await call(auth.baseUrl, '/auth/token/refresh/', {
        method: 'POST',
        body: { refresh: auth.refresh },
        timeoutMs: 10000,
      });
      const current = await getAuth();
      if (!current || current.refresh !== auth.refresh) return current; // signed out or in again meanwhile
      if (result.ok && result.data && result.data.access) {
        let claims;
        try {
          claims = decodeJwt(result.data.access);
        } catch {
          return null;
        }
        return saveAuth({
          ...current,
          access: result.data.access,
          refresh: result.data.refresh || current.refresh, // rotated refresh tokens come back too
          accessExp: expiryMs(claims),
          expired: false,
        });
      }
      if (result.status === 400 || result.status === 401) {
        await store.set({ auth: { ...current, expired: true } });
        console.warn('Memory Layer: the session has ended, sign in again:', result.error);
      }
      return null;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** A usable access token, refreshed first when it expires within a minute; null when there is none. */
export async function getAccessToken() {
  const auth = await getAuth();
  if (!auth || !auth.access) return null;
  if (auth.accessExp && auth.accessExp - Date.now() < REFRESH_MARGIN_MS) {
    if (auth.refresh) {
      const fresh = await refreshAccess();
      if (fresh && fresh.access) return fresh.access;
    }
    if (auth.accessExp <= Date.now()) {
      if (!auth.refresh && !auth.expired) await store.set({ auth: { ...auth, expired: true } });
      return null;
    }
  }
  return auth.access;
}

/** An authenticated call to the signed-in server; a 401 refreshes the token once and tries again. */
export async function authedCall(path, options = {}) {
  const auth = await getAuth();
  if (!auth) return { ok: false, status: 0, error: 'not signed in', noAuth: true };
  const token = await getAccessToken();
  if (!token) return { ok: false, status: 401, error: 'sign in again: the session has ended', noAuth: true };
  let result = await call(auth.baseUrl, path, { ...options, token });
  if (result.status === 401 && auth.refresh) {
    const fresh = await refreshAccess();
    if (fresh && fresh.access) result = await call(fresh.baseUrl, path, { ...options, token: fresh.access });
  }
  if (result.status === 401) {
    result.noAuth = true;
    const current = await getAuth();
    if (current && !current.refresh && !current.expired) await store.set({ auth: { ...current, expired: true } });
  }
  return result;
}
