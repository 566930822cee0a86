// The chip beside the prompt box: "Looking for memories…", "2 memories used" (click: what was added), "Send without
// memories". It lives in a shadow root so the site's styles and ours never mix. It knows the rest of the
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
  `;

  const chip = {
    host: null,
    els: null,
    state: 'hidden',
    hideTimer: null,
    placeTimer: null,

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
      const preview = document.createElement('div');
      preview.className = 'preview';
      preview.hidden = true;
      const heading = document.createElement('h2');
      heading.textContent = 'Added in front of your prompt';
      const list = document.createElement('ul');
      preview.append(heading, list);
      box.append(count, skip, close, preview);
      root.append(style, box);
      // Keep the focus (and the caret) in the site's editor.
      box.addEventListener('mousedown', (event) => event.preventDefault());
      box.addEventListener('click', (event) => event.stopPropagation());
      count.addEventListener('click', () => {
        if (this.state === 'used') preview.hidden = !preview.hidden;
      });
      skip.addEventListener('click', () => ML.compose.sendWithoutMemories());
      close.addEventListener('click', () => this.show('hidden'));
      (document.body || document.documentElement).appendChild(host);
      this.host = host;
      this.els = { box, count, skip, close, preview, list };
    },

    show(state, result = null) {
      this.build();
      clearTimeout(this.hideTimer);
      this.state = state;
      const { box, count, skip, close, preview, list } = this.els;
      if (state === 'hidden') {
        box.hidden = true;
        preview.hidden = true;
        clearInterval(this.placeTimer);
        this.placeTimer = null;
        return;
      }
      preview.hidden = true;
      count.disabled = state !== 'used';
      skip.hidden = !(state === 'pending' || state === 'draft');
      close.hidden = state !== 'used';
      if (state === 'draft') count.textContent = 'Memory Layer: memories on';
      else if (state === 'pending') count.textContent = 'Looking for memories…';
      else if (state === 'none') count.textContent = 'No related memories';
      else if (state === 'unavailable') count.textContent = 'Memories unavailable: sent as written';
      else if (state === 'skipped') count.textContent = 'Sent without memories';
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
      this.place();
      if (!this.placeTimer) this.placeTimer = setInterval(() => this.place(), 250);
      if (state === 'none' || state === 'skipped' || state === 'unavailable') this.hideTimer = setTimeout(() => this.show('hidden'), 2500);
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
