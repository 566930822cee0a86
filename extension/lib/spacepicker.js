// The per-site space pickers, shared by the popup (the quick switch) and the options page: one <select> per site
// listing the person's spaces; a change asks the service worker to use that space for the site.

import { PROVIDERS, PROVIDER_NAMES } from './storage.js';

/** Rows of "<site> [space ▾]" for `status.spaces` ({list, choices}); `onError(text)` when a choice is refused. */
export function siteSpaceRows({ list, choices }, onError) {
  const fallback = list.find((space) => space.isDefault) || list[0];
  return PROVIDERS.map((provider) => {
    const label = document.createElement('label');
    label.className = 'row';
    const name = document.createElement('span');
    name.textContent = PROVIDER_NAMES[provider];
    const select = document.createElement('select');
    select.id = `space-${provider}`;
    select.dataset.provider = provider;
    for (const space of list) {
      const option = document.createElement('option');
      option.value = space.id;
      const count = Number.isFinite(space.memories) ? ` (${space.memories})` : '';
      option.textContent = `${space.name}${space.isDefault ? ' — default' : ''}${count}`;
      select.append(option);
    }
    const chosen = list.find((space) => space.id === (choices || {})[provider]) || fallback;
    select.value = chosen.id;
    select.addEventListener('change', async () => {
      const answer = await chrome.runtime.sendMessage({ type: 'set-site-space', provider, space: select.value });
      if (!answer || !answer.ok) onError((answer && answer.error) || 'That space could not be chosen.');
    });
    label.append(name, select);
    return label;
  });
}
