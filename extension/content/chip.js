// The chip beside the prompt box: "Looking for memories…", "2 memories used" (click: what was added), "Send without
// memories", and the site's space ("Work ▾": click to switch this site to another of the person's spaces). It lives in a shadow root so the site's styles and ours never mix. It knows the rest of the
// extension only through ML.compose (the held send, the composer, sending without memories).
(() => {
  'use strict';

  const ML = (globalThis.MemoryLayer = globalThis.MemoryLayer || {});
  if (ML.chip) return;

  const CHIP_CSS = `
    :host { all: initial; }
    .chip { position: fixed; z-index: 2147483646; display: flex; gap: 6px; align-items: center; max-width: 420px;
      font: 12px/1.3 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f1b2e; background: #f3efff;
      border: 1px solid #c9b8ff; border-radius: 999px; padding: 3px 4px 3px 10px;
      box-shadow: 0 2px 8px rgba(40, 20, 90, .15); }
    .chip[hidden] { display: none; }
    button { font: inherit; cursor: pointer; border: 0; border-radius: 999px; padding: 3px 8px; background: transparent;
      color: inherit; }
    .count { font-weight: 600; padding-left: 0; }
    .count:disabled { cursor: default; font-weight: 500; }
    .skip { background: #6b4dff; color: white; }
    .skip[hidden], .close[hidden] { display: none; }
    .close { padding: 2px 7px; color: #5b5575; }
    .preview { position: absolute; bottom: calc(100% + 6px); right: 0; width: 380px; max-height: 260px; overflow: auto;
      background: white; border: 1px solid #c9b8ff; border-radius: 10px; padding: 8px 10px;
      box-shadow: 0 6px 20px rgba(40, 20, 90, .2); }
    .preview[hidden] { display: none; }
    .preview h2 { font-size: 12px; margin: 0 0 6px; color: #5b5575; font-weight: 600; }
    .preview ul { margin: 0; padding-left: 16px; }
    .preview li { margin: 0 0 6px; white-space: pre-wrap; word-break: break-word; }
    .space { border: 1px solid #c9b8ff; background: white; max-width: 160px; overflow: hidden; text-overflow: ellipsis;
      white-space: nowrap; flex-shrink: 0; }
    .chip:has(.space:not([hidden])) { max-width: 560px; }
    .chip:has(.space:not([hidden])) .count, .chip:has(.space:not([hidden])) .skip { white-space: nowrap; }
    .space[hidden], .menu[hidden] { display: none; }
    .menu { position: absolute; bottom: calc(100% + 6px); left: 0; min-width: 160px; background: white;
      border: 1px solid #c9b8ff; border-radius: 10px; padding: 4px; box-shadow: 0 6px 20px rgba(40, 20, 90, .2); }
    .menu h2 { font-size: 11px; margin: 2px 6px 4px; color: #5b5575; font-weight: 600; }
    .menu button { display: block; width: 100%; text-align: left; border-radius: 6px; }
    .menu button:hover, .menu button[aria-checked="true"] { background: #f3efff; }
    .menu button[aria-checked="true"] { font-weight: 600; }
  `;

  const chip = {
    host: null,
    els: null,
    state: 'hidden',
    hideTimer: null,
    placeTimer: null,
    lastNotice: null,

    build() {
      if (this.host && this.host.isConnected) return;
      const host = document.createElement('div');
      host.id = 'memory-layer-chip';
      const root = host.attachShadow({ mode: 'open' });
      const style = document.createElement('style');
      style.textContent = CHIP_CSS;
      const box = document.createElement('div');
      box.className = 'chip';
      box.hidden = true;
      box.setAttribute('role', 'status');
      const count = document.createElement('button');
      count.type = 'button';
      count.className = 'count';
      const skip = document.createElement('button');
      skip.type = 'button';
      skip.className = 'skip';
      skip.textContent = 'Send without memories';
      const close = document.createElement('button');
      close.type = 'button';
      close.className = 'close';
      close.title = 'Hide';
      close.textContent = '×';
      const space = document.createElement('button');
      space.type = 'button';
      space.className = 'space';
      space.hidden = true;
      space.setAttribute('aria-haspopup', 'menu');
      const menu = document.createElement('div');
      menu.className = 'menu';
      menu.hidden = true;
      menu.setAttribute('role', 'menu');
      const preview = document.createElement('div');
      preview.className = 'preview';
      preview.hidden = true;
      const heading = document.createElement('h2');
      heading.textContent = 'Added in front of your prompt';
      const list = document.createElement('ul');
      preview.append(heading, list);
      box.append(count, space, skip, close, preview, menu);
      root.append(style, box);
      // Keep the focus (and the caret) in the site's editor.
      box.addEventListener('mousedown', (event) => event.preventDefault());
      box.addEventListener('click', (event) => event.stopPropagation());
      count.addEventListener('click', () => {
        if (this.state === 'used') preview.hidden = !preview.hidden;
      });
      skip.addEventListener('click', () => ML.compose.sendWithoutMemories());
      space.addEventListener('click', () => {
        preview.hidden = true;
        if (menu.hidden) this.fillMenu();
        menu.hidden = !menu.hidden;
      });
      close.addEventListener('click', () => this.show('hidden'));
      (document.body || document.documentElement).appendChild(host);
      this.host = host;
      this.els = { box, count, skip, close, preview, list, space, menu };
    },

    /** The site's space on the chip, when the person has more than one (nothing to switch otherwise). */
    showSpace() {
      if (!this.els) return;
      const view = ML.runtime.view;
      const site = ML.runtime.site;
      const current = site && view.space ? view.space[site] : null;
      const { space, menu } = this.els;
      const many = Array.isArray(view.spaces) && view.spaces.length > 1 && current;
      const shown = Boolean(many && (this.state === 'draft' || this.state === 'used' || this.state === 'pending'));
      space.hidden = !shown;
      if (!shown) menu.hidden = true;
      if (current) {
        space.textContent = `${current.name} ▾`;
        space.title = `Saving into and reading from your space “${current.name}”: click to switch`;
        space.dataset.spaceId = current.id;
      }
      if (!menu.hidden) this.fillMenu();
    },

    fillMenu() {
      const view = ML.runtime.view;
      const site = ML.runtime.site;
      const current = site && view.space ? view.space[site] : null;
      const heading = document.createElement('h2');
      heading.textContent = 'Space for this site';
      const items = (view.spaces || []).map((s) => {
        const item = document.createElement('button');
        item.type = 'button';
        item.setAttribute('role', 'menuitemradio');
        item.setAttribute('aria-checked', String(Boolean(current && current.id === s.id)));
        item.dataset.spaceId = s.id;
        item.textContent = s.name;
        item.addEventListener('click', () => {
          this.els.menu.hidden = true;
          ML.runtime.message({ type: 'set-space', space: s.id }).catch(() => {});
        });
        return item;
      });
      this.els.menu.replaceChildren(heading, ...items);
    },

    /** A view arrived: the space label follows it, and a space that no longer exists is told (once). */
    viewChanged(view) {
      if (view && view.spaceNotice && view.spaceNotice !== this.lastNotice) {
        this.lastNotice = view.spaceNotice;
        ML.runtime.message({ type: 'space-notice-seen' }).catch(() => {});
        this.show('notice', { text: view.spaceNotice });
        this.els.box.dataset.notice = view.spaceNotice; // stays after the chip moves on to the send's own state
        return;
      }
      if (this.els && !this.els.box.hidden) this.showSpace();
    },

    show(state, result = null) {
      this.build();
      clearTimeout(this.hideTimer);
      this.state = state;
      const { box, count, skip, close, preview, list, menu } = this.els;
      if (state === 'hidden') {
        box.hidden = true;
        preview.hidden = true;
        menu.hidden = true;
        clearInterval(this.placeTimer);
        this.placeTimer = null;
        return;
      }
      preview.hidden = true;
      count.disabled = state !== 'used';
      skip.hidden = !(state === 'pending' || state === 'draft');
      close.hidden = state !== 'used' && state !== 'notice';
      if (state === 'draft') count.textContent = 'Memory Layer: memories on';
      else if (state === 'pending') count.textContent = 'Looking for memories…';
      else if (state === 'none') count.textContent = 'No related memories';
      else if (state === 'unavailable') count.textContent = 'Memories unavailable: sent as written';
      else if (state === 'skipped') count.textContent = 'Sent without memories';
      else if (state === 'notice') count.textContent = result.text;
      else if (state === 'used') {
        const n = result.count;
        count.textContent = `${n} ${n === 1 ? 'memory' : 'memories'} used`;
        count.title = 'Show what was added';
        list.replaceChildren(
          ...(result.contexts || []).map((text) => {
            const li = document.createElement('li');
            li.textContent = text;
            return li;
          }),
        );
      }
      box.hidden = false;
      box.dataset.state = state;
      this.showSpace();
      this.place();
      if (!this.placeTimer) this.placeTimer = setInterval(() => this.place(), 250);
      if (state === 'none' || state === 'skipped' || state === 'unavailable') this.hideTimer = setTimeout(() => this.show('hidden'), 2500);
      if (state === 'notice') this.hideTimer = setTimeout(() => this.show('hidden'), 8000);
    },

    draftChanged(hasText) {
      if (ML.compose.pending()) return;
      if (hasText && this.state !== 'draft' && this.state !== 'pending') {
        this.show('draft');
      } else if (!hasText && this.state === 'draft') this.show('hidden');
    },

    place() {
      if (!this.els || this.els.box.hidden) return;
      const anchor = ML.compose.composer();
      const { box } = this.els;
      if (!anchor) {
        box.style.right = '16px';
        box.style.bottom = '16px';
        box.style.left = box.style.top = '';
        return;
      }
      const rect = anchor.getBoundingClientRect();
      const height = box.offsetHeight || 28;
      const top = rect.top - height - 8 >= 4 ? rect.top - height - 8 : rect.bottom + 8;
      box.style.top = `${Math.round(top)}px`;
      box.style.right = `${Math.max(4, Math.round(window.innerWidth - rect.right))}px`;
      box.style.left = box.style.bottom = '';
    },
  };

  ML.chip = chip;
})();
