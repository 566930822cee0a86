import { normalizeBaseUrl, originPattern } from './lib/api.js';
import { siteSpaceRows } from './lib/spacepicker.js';
import { getOptions, setOptions } from './lib/storage.js';

const $ = (id) => document.getElementById(id);

function ask(type, extra = {}) {
  return chrome.runtime.sendMessage({ type, ...extra });
}

function say(el, text, kind = 'muted') {
  el.textContent = text;
  el.className = kind;
}

async function hasAccess(baseUrl) {
  try {
    return await chrome.permissions.contains({ origins: [originPattern(baseUrl)] });
  } catch {
    return false;
  }
}

/** "Create an account" and "Forgot your password?" open the server's own pages (its web app, /app/). */
function showAccountLinks(baseUrl) {
  const links = { 'create-account': '/app/signup/', 'forgot-password': '/app/password/reset/' };
  for (const [id, path] of Object.entries(links)) {
    const link = $(id);
    if (baseUrl) link.href = new URL(baseUrl).origin + path;
    else link.removeAttribute('href');
  }
}

async function showAccess() {
  let baseUrl;
  try {
    baseUrl = normalizeBaseUrl($('base-url').value);
  } catch {
    say($('access'), '');
    showAccountLinks(null);
    return;
  }
  showAccountLinks(baseUrl);
  const host = new URL(baseUrl).host;
  if (await hasAccess(baseUrl)) say($('access'), `The extension may reach ${host}.`, 'ok');
  else
    say(
      $('access'),
      `Signing in asks the browser to let the extension reach ${host} (unless that server already allows this extension's origin).`,
    );
}

/** The space each site uses (the list is refreshed from the server first). */
async function renderSpaces() {
  const status = await ask('spaces');
  const { list, supported } = status.spaces || {};
  const shown = Boolean(status.signedIn && supported && list && list.length);
  $('spaces-section').hidden = !shown;
  if (shown) $('site-spaces').replaceChildren(...siteSpaceRows(status.spaces, (text) => say($('spaces-result'), text, 'error')));
}

async function renderStatus() {
  const status = await ask('status');
  const el = $('account-status');
  if (status.signedIn) {
    const who = status.account.username || status.account.userId;
    const how = status.account.mode === 'token' ? 'with a pasted token' : 'with a password';
    say(el, `Signed in as ${who} (user ${status.account.userId}) on ${status.account.baseUrl}, ${how}.`, status.expired ? 'error' : 'ok');
    if (status.expired) el.textContent += ' The session has ended: sign in again.';
  } else say(el, 'Not signed in.', 'error');
  $('sign-out').hidden = !status.signedIn;
  return status;
}

/**
 * Signs in through the service worker. The host permission for the server is requested first, synchronously,
 * while the click still counts as a user gesture; the sign-in does not wait for the answer unless the server
 * could not be reached (a server that allows this extension's origin by CORS needs no permission).
 */
function signIn(credentials) {
  const result = $('sign-in-result');
  let baseUrl;
  try {
    baseUrl = normalizeBaseUrl($('base-url').value);
  } catch (err) {
    say(result, err.message, 'error');
    return;
  }
  let permission;
  try {
    permission = chrome.permissions.request({ origins: [originPattern(baseUrl)] }).catch(() => false);
  } catch {
    permission = Promise.resolve(false);
  }
  say(result, 'Signing in…');
  (async () => {
    let answer = await ask('sign-in', { baseUrl, ...credentials });
    if (!answer.ok && !answer.status) {
      say(result, `Waiting for you to allow access to ${new URL(baseUrl).host}…`);
      if (await permission) answer = await ask('sign-in', { baseUrl, ...credentials });
    }
    if (answer.ok) {
      say(result, `Signed in as ${answer.account.username || answer.account.userId}.`, 'ok');
      $('password').value = '';
      $('token').value = '';
      $('otp').value = '';
      $('otp-field').hidden = true;
    } else if (answer.mfaRequired) {
      // The account has two-factor sign-in: the server wants the app's current code with the password.
      const retry = $('otp-field').hidden === false && credentials.otp;
      $('otp-field').hidden = false;
      $('otp').value = '';
      $('otp').focus();
      say(
        result,
        retry
          ? `That code was not accepted (${answer.error}). Enter the current code and sign in again.`
          : 'This account has two-factor sign-in: enter the 6-digit code from your authenticator app (or a recovery code), then sign in again.',
        'error',
      );
    } else {
      const reach = answer.status ? '' : ` Is the server running at ${baseUrl}, and may the extension reach it?`;
      say(result, `Sign-in failed: ${answer.error}.${reach}`, 'error');
    }
    await renderStatus();
    await showAccess();
    await renderSpaces();
  })();
}

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const otp = $('otp-field').hidden ? '' : $('otp').value.replace(/\s+/g, '');
  signIn({ username: $('username').value.trim(), password: $('password').value, ...(otp ? { otp } : {}) });
});

$('use-token').addEventListener('click', () => {
  const token = $('token').value.trim();
  if (!token) {
    say($('sign-in-result'), 'Paste an access token first.', 'error');
    return;
  }
  signIn({ token });
});

$('sign-out').addEventListener('click', async () => {
  await ask('sign-out');
  say($('sign-in-result'), 'Signed out.');
  await renderStatus();
  await renderSpaces();
});

$('options-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const saved = await setOptions({
    contextEnabled: $('context-enabled').checked,
    maxTokens: $('max-tokens').value,
    timeoutMs: $('timeout-ms').value,
  });
  $('max-tokens').value = saved.maxTokens;
  $('timeout-ms').value = saved.timeoutMs;
  say($('saved'), 'Saved.', 'ok');
});

$('base-url').addEventListener('change', showAccess);

(async () => {
  const options = await getOptions();
  $('base-url').value = options.baseUrl;
  $('context-enabled').checked = options.contextEnabled;
  $('max-tokens').value = options.maxTokens;
  $('timeout-ms').value = options.timeoutMs;
  $('extension-origin').textContent = new URL(chrome.runtime.getURL('')).origin;
  await renderStatus();
  await showAccess();
  await renderSpaces();
  document.body.dataset.ready = 'true';
})();
