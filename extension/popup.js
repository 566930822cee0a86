import { siteSpaceRows } from './lib/spacepicker.js';
import { PROVIDERS, PROVIDER_NAMES, getSites, setSite, set } from './lib/storage.js';

const $ = (id) => document.getElementById(id);
const PAUSE_MS = 60 * 60 * 1000;

function ask(type, extra = {}) {
  return chrome.runtime.sendMessage({ type, ...extra });
}

function when(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function renderAccount(status) {
  const el = $('account');
  el.className = 'muted';
  if (!status.signedIn) {
    el.textContent = 'Not signed in. Open the options to sign in.';
    el.className = 'error';
  } else if (status.expired) {
    el.textContent = `Session ended for ${status.account.username || status.account.userId}: sign in again in the options.`;
    el.className = 'error';
  } else {
    el.textContent = `Signed in as ${status.account.username || status.account.userId} on ${status.account.baseUrl}`;
  }
}

async function renderSites(status) {
  const sites = await getSites();
  const box = $('sites');
  box.replaceChildren(
    ...PROVIDERS.map((provider) => {
      const label = document.createElement('label');
      label.className = 'row';
      const name = document.createElement('span');
      name.textContent = PROVIDER_NAMES[provider];
      const offOnServer = status.server && status.server.providers && status.server.providers[provider] === false;
      if (offOnServer) {
        const note = document.createElement('span');
        note.className = 'muted';
        note.textContent = ' (off in your account)';
        name.append(note);
      }
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.id = `site-${provider}`;
      input.dataset.provider = provider;
      input.checked = sites[provider];
      input.addEventListener('change', async () => {
        await setSite(provider, input.checked);
      });
      label.append(name, input);
      return label;
    }),
  );
}

/** One space per site (the quick switch); shown when the server has spaces. */
function renderSpaces(status, notice) {
  const { list, choices, supported } = status.spaces || {};
  $('spaces-section').hidden = !(status.signedIn && supported && list && list.length);
  const noticeEl = $('space-notice');
  if (notice) {
    noticeEl.textContent = notice.text;
    noticeEl.hidden = false;
  }
  if (!list || !list.length) return;
  $('site-spaces').replaceChildren(
    ...siteSpaceRows({ list, choices }, (text) => {
      noticeEl.textContent = text;
      noticeEl.hidden = false;
    }),
  );
}

function renderPause(status) {
  const paused = status.pausedUntil && status.pausedUntil > Date.now();
  $('pause').hidden = Boolean(paused);
  $('resume').hidden = !paused;
  $('pause-state').textContent = paused ? `Capture paused until ${when(status.pausedUntil)}.` : '';
  const server = status.server;
  const notes = [];
  if (server && server.capture === false) notes.push('Capture is off in your account settings.');
  if (server && server.context === false) notes.push('Context is off in your account settings.');
  if (!status.options.contextEnabled) notes.push('Adding context is off (options).');
  $('server-state').textContent = notes.join(' ');
}

function renderQueue(status) {
  const items = status.queue;
  $('queue-count').textContent = String(items.length);
  $('queue-label').textContent = items.length === 1 ? 'save waiting' : 'saves waiting';
  $('queue-items').replaceChildren(
    ...items.slice(0, 20).map((item) => {
      const li = document.createElement('li');
      const what = item.kind === 'response' ? 'answer' : 'prompt';
      const next = item.nextAt ? `, next try ${when(item.nextAt)}` : '';
      const into = item.spaceName ? ` into ${item.spaceName}` : '';
      li.textContent = `${PROVIDER_NAMES[item.provider] || item.provider} ${what}${into}: “${item.preview}” — ${
        item.attempts
      } tries${next}${item.lastError ? ` (${item.lastError})` : ''}`;
      return li;
    }),
  );
  $('retry').disabled = items.length === 0;
  const dropped = status.dropped || [];
  $('dropped').textContent = dropped.length
    ? `Last refused by the server: ${dropped[0].reason} (${dropped.length} in the log).`
    : '';
}

async function render(status) {
  status = status || (await ask('status'));
  renderAccount(status);
  await renderSites(status);
  renderSpaces(status, null);
  renderPause(status);
  renderQueue(status);
  document.body.dataset.ready = 'true';
}

$('pause').addEventListener('click', async () => {
  await set({ pausedUntil: Date.now() + PAUSE_MS });
  render();
});
$('resume').addEventListener('click', async () => {
  await set({ pausedUntil: 0 });
  render();
});
$('retry').addEventListener('click', async () => {
  $('retry').disabled = true;
  $('retry').textContent = 'Retrying…';
  const status = await ask('retry-now');
  $('retry').textContent = 'Retry now';
  render(status);
});
$('open-memories').addEventListener('click', async () => {
  await ask('open-memories');
  window.close();
});
$('open-options').addEventListener('click', () => chrome.runtime.openOptionsPage());

chrome.storage.onChanged.addListener((changes, area) => {
  const watched = ['queue', 'auth', 'serverSettings', 'spaces', 'siteSpaces'];
  if (area === 'local' && watched.some((key) => key in changes)) render();
});

// Opening the popup refreshes the list of spaces (and tells, once, of a space that no longer exists).
render().then(async () => {
  const status = await ask('spaces');
  const { notice } = await ask('space-notice-seen');
  renderSpaces(status, notice);
  renderQueue(status);
  document.body.dataset.spaces = 'ready';
});
