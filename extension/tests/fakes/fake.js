// Fakes of today's assistant pages, built on the structures the real sites serve (each layout's source is cited
// beside it), for the extension's end-to-end tests. One page per site; the URL's query picks the variant:
//   layout=app|thread|signed-out (chatgpt), hub|classic (claude)   lang=en|ja|ko (aria-labels and page text)
//   think=<ms>   a thinking phase before the first words (Claude hub: no data-is-streaming at all meanwhile)
//   pause=<ms>   a pause mid-answer with the stop control showing (a tool call or web search)
//   thoughts=1   Gemini's expanded thinking panel / Grok's reasoning header
//   remount=1    the newest answer bubble is replaced by a new element when it is done (Grok)
//   remap=1      another extension remaps Enter to a new line and Ctrl+Enter to send
//   virtual=1    a virtualised list: when an answer is done every turn is unmounted and mounted again (new elements)
// What the site sent is kept in window.__sent, each answer's final text in window.__answers, and
// window.__idle() says no answer is being produced.
(() => {
  const site = document.body.dataset.site;
  const q = new URLSearchParams(location.search);
  const lang = q.get('lang') || 'en';
  const layoutName = q.get('layout') || { chatgpt: 'app', claude: 'classic', gemini: 'app', grok: 'app' }[site];
  const think = Number(q.get('think') || 0);
  const pause = Number(q.get('pause') || 0);
  const thoughts = q.get('thoughts') === '1';
  const remount = q.get('remount') === '1';
  const virtual = q.get('virtual') === '1';
  window.__sent = [];
  window.__answers = [];
  let streaming = null; // {stop()} while an answer is produced

  const L = {
    en: { send: 'Send message', stop: 'Stop response', grokStop: 'Stop model response', claudeSaid: 'Claude responded:', thinking: 'Thinking', thought: 'Thought process', now: 'Just now', generating: 'Generating…' },
    ja: { send: 'メッセージを送信', stop: '応答を停止', grokStop: 'モデルの応答を停止', claudeSaid: 'Claudeが返答しました:', thinking: '考え中', thought: '思考プロセス', now: 'たった今', generating: '生成中…' },
    ko: { send: '메시지 보내기', stop: '응답 중지', grokStop: '모델 응답 중지', claudeSaid: 'Claude의 응답:', thinking: '생각 중', thought: '생각 과정', now: '방금', generating: '생성 중…' },
  }[lang];

  function el(html) {
    const t = document.createElement('template');
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }
  const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const main = document.querySelector('main');
  const thread = el('<div id="thread"></div>');
  main.append(thread);
  let n = 0;

  // ---------------------------------------------------------------------------------------------- layouts
  // Each: composer (HTML), user(text) -> element, answer() -> {node, body, done()}, streaming(on).
  const layouts = {
    chatgpt: {
      // app: #prompt-textarea.ProseMirror; send button only while the box has text; stop-button while streaming;
      // turns are <section> since 2026-06; the copy button appears when done (KudoAI/chatgpt.js, steipete/oracle,
      // supermemoryai/supermemory apps/browser-extension; copy-turn-action-button in many automation projects).
      app: {
        composer: `<form class="composer"><div id="prompt-textarea" class="ProseMirror" contenteditable="true" data-fake-editor><p><br></p></div>
          <button id="composer-submit-button" data-testid="send-button" aria-label="${L.send}" type="button" data-fake-send hidden>Send</button>
          <button data-testid="stop-button" aria-label="${L.stop}" type="button" data-fake-stop hidden>Stop</button></form>`,
        user: (t) => el(`<section data-turn="user"><div data-message-author-role="user" data-message-id="u${n}"><div class="whitespace-pre-wrap">${esc(t)}</div></div></section>`),
        answer() {
          const node = el(`<section data-turn="assistant"><h6 class="sr-only">ChatGPT said:</h6><div data-message-author-role="assistant" data-message-id="a${n}"><div class="markdown prose"></div></div></section>`);
          return { node, body: node.querySelector('.markdown'), done: () => node.append(el('<div><button data-testid="copy-turn-action-button" aria-label="Copy">⧉</button></div>')) };
        },
        streaming(on) {
          document.querySelector('[data-fake-stop]').hidden = !on;
          syncSend();
        },
        sendsOnModEnter: true,
      },
      // thread (rolled out since mid-2026): one submit button whose aria-label switches between its send and stop
      // labels; answers are search units ending ":assistant", final once a selection message id appears.
      thread: {
        composer: `<form class="composer" data-chatgpt-composer><div data-composer-markdown contenteditable="true" role="textbox" data-fake-editor><p><br></p></div>
          <button type="button" data-composer-submit data-send-label="${L.send}" data-stop-label="${L.stop}" aria-label="${L.send}" data-fake-send data-fake-stop>↑</button></form>`,
        user: (t) => el(`<div data-chatgpt-search-unit-key="c1:u${n}:user"><p>${esc(t)}</p></div>`),
        answer() {
          const node = el(`<div data-chatgpt-search-unit-key="c1:a${n}:assistant"><div data-markdown-text-style="assistant-message"></div></div>`);
          return { node, body: node.firstElementChild, done: () => node.setAttribute('data-chatgpt-selection-message-id', `a${n}`) };
        },
        streaming(on) {
          const b = document.querySelector('[data-composer-submit]');
          b.setAttribute('aria-label', on ? b.dataset.stopLabel : b.dataset.sendLabel);
        },
        sendsOnModEnter: true,
      },
      // signed-out: a textarea; turns are <li data-message-role>, streaming then complete.
      'signed-out': {
        composer: `<form class="composer"><textarea id="mobile-composer-prompt" data-mobile-composer-prompt rows="3" data-fake-editor></textarea>
          <button data-testid="send-button" aria-label="${L.send}" type="button" data-fake-send>Send</button>
          <button data-testid="stop-button" aria-label="${L.stop}" type="button" data-fake-stop hidden>Stop</button></form>`,
        user: (t) => el(`<li data-message-role="user"><div>${esc(t)}</div></li>`),
        answer() {
          const node = el('<li data-message-role="assistant" data-message-streaming><div data-assistant-markdown></div></li>');
          return { node, body: node.firstElementChild, done: () => { node.removeAttribute('data-message-streaming'); node.setAttribute('data-message-complete', ''); } };
        },
        streaming(on) {
          document.querySelector('[data-fake-stop]').hidden = !on;
          document.querySelector('[data-fake-send]').hidden = on;
        },
        sendsOnModEnter: true,
        list: true,
      },
    },
    claude: {
      // classic: data-is-streaming on the answer's container, "false" when done.
      classic: {
        composer: `<fieldset class="composer"><div class="ProseMirror" contenteditable="true" role="textbox" data-fake-editor><p><br></p></div>
          <button aria-label="${L.send}" type="button" data-fake-send>Send</button></fieldset>`,
        user: (t) => el(`<div data-testid="user-message"><p>${esc(t)}</p></div>`),
        answer() {
          const node = el('<div data-is-streaming="true"><div class="font-claude-response"></div></div>');
          return { node, body: node.firstElementChild, done: () => node.setAttribute('data-is-streaming', 'false') };
        },
        streaming() {},
      },
      // hub (2026-10): the editor itself is data-testid=chat-input; chat-input-send / chat-input-stop (test ids
      // that survive translation; the aria-labels do not); the answer holds an h2.sr-only, TurnStatus rows, the
      // body in data-transcript-engine-root / data-cds=Prose, and MessageActions with a <time> once done. The
      // thinking phase has no data-is-streaming at all. Enter while an answer streams is ignored.
      hub: {
        composer: `<div class="composer"><div data-testid="chat-input" contenteditable="true" role="textbox" aria-label="${L.send}" data-fake-editor><p><br></p></div>
          <button data-testid="chat-input-send" aria-label="${L.send}" type="button" data-fake-send>↑</button>
          <button data-testid="chat-input-stop" aria-label="${L.stop}" type="button" data-fake-stop hidden>■</button></div>`,
        user: (t) => el(`<div data-testid="user-message"><p>${esc(t)}</p></div>`),
        answer() {
          const node = el(`<div data-testid="assistant-message"><h2 class="sr-only">${L.claudeSaid} ${n === 1 ? 'Yes.' : '…'}</h2>
            <div data-cds="TurnStatus">${L.thinking}</div><div data-cds="TurnStatus">${L.thinking}</div>
            <div data-transcript-engine-root><div data-cds="Prose"></div></div></div>`);
          return {
            node,
            body: node.querySelector('[data-cds=Prose]'),
            started: () => node.querySelectorAll('[data-cds=TurnStatus]').forEach((r) => (r.textContent = L.thought)),
            done: () => node.append(el(`<div data-cds="MessageActions"><button aria-label="Copy">⧉</button><time datetime="2026-12-05T00:00:00Z">${L.now}</time></div>`)),
          };
        },
        streaming(on) {
          document.querySelector('[data-fake-stop]').hidden = !on;
          document.querySelector('[data-fake-send]').hidden = on;
        },
        ignoresEnterWhileStreaming: true,
      },
      // next: a redesign no bundled adapter knows (what a site change looks like to the extension): the composer
      // and user turns are still found, the answers are not. The test fixes it with an adapter from the server.
      next: {
        composer: `<div class="composer"><div contenteditable="true" role="textbox" data-fake-editor><p><br></p></div>
          <button data-testid="chat-input-send" aria-label="${L.send}" type="button" data-fake-send>↑</button></div>`,
        user: (t) => el(`<div data-testid="user-message"><p>${esc(t)}</p></div>`),
        answer() {
          const node = el('<article data-reply data-state="streaming"><div class="reply-body"></div><footer class="reply-tools">Copy</footer></article>');
          return { node, body: node.firstElementChild, done: () => node.setAttribute('data-state', 'done') };
        },
        streaming() {},
      },
    },
    gemini: {
      // rich-textarea .ql-editor; button.send-button with mat-icon fonticon=send, the same button turns into
      // button.send-button.stop (fonticon=stop) while streaming; model-thoughts adds a message-content before the
      // answer; the body is message-content.model-response-text .markdown-main-panel; "Gemini said" header and
      // cdk-visually-hidden labels; the copy/thumb buttons appear when done (Nagi-ovo/gemini-voyager,
      // Pedal-Intelligence/saypi-userscript).
      app: {
        composer: `<div class="composer"><rich-textarea><div class="ql-editor" contenteditable="true" role="textbox" data-fake-editor><p><br></p></div></rich-textarea>
          <div class="send-button-container"><button class="send-button" aria-label="${L.send}" type="button" data-fake-send data-fake-stop><mat-icon fonticon="send">send</mat-icon></button></div></div>`,
        user: (t) => el(`<user-query><span class="cdk-visually-hidden">You said</span><div class="query-text"><p>${esc(t)}</p></div></user-query>`),
        answer() {
          const node = el(`<model-response><div class="response-container-header">Gemini said</div>
            ${thoughts ? '<model-thoughts data-test-id="model-thoughts"><button data-test-id="thoughts-header-button">Show thinking</button><message-content><div class="markdown">I am weighing the question about trains and borders.</div></message-content></model-thoughts>' : ''}
            <message-content class="model-response-text"><span class="cdk-visually-hidden">Gemini said</span><div class="markdown markdown-main-panel"></div></message-content></model-response>`);
          return {
            node,
            body: node.querySelector('.markdown-main-panel'),
            done: () => node.append(el('<message-actions><div class="actions-container-v2"><button data-test-id="copy-button" aria-label="Copy">⧉</button><button aria-label="Good response">👍</button></div></message-actions>')),
          };
        },
        streaming(on) {
          const b = document.querySelector('.send-button');
          b.classList.toggle('stop', on);
          b.setAttribute('aria-label', on ? L.stop : L.send);
          b.querySelector('mat-icon').setAttribute('fonticon', on ? 'stop' : 'send');
        },
        ignoresEnterWhileStreaming: true,
      },
    },
    grok: {
      // tiptap ProseMirror in form[data-composer]; chat-submit (a voice button while the box is empty); the stop
      // button is known only by its localised aria-label; a [role=status] "Generating…" strip; the answer
      // [data-testid=assistant-message] with .response-content-markdown and a reasoning header in the same bubble
      // ("Thinking about your request • Ns" -> "Thought for Ns"); the newest bubble can be remounted.
      app: {
        composer: `<form class="composer" data-composer><div class="tiptap ProseMirror" contenteditable="true" data-fake-editor><p><br></p></div>
          <button data-testid="chat-submit" type="submit" aria-label="Submit" data-fake-send hidden>↑</button>
          <button type="button" aria-label="Enter voice mode" data-fake-voice>🎙</button>
          <button type="button" aria-label="${L.grokStop}" data-fake-stop hidden>■</button></form>`,
        user: (t) => el(`<div class="message-row items-end"><div data-testid="user-message" class="message-bubble"><p>${esc(t)}</p></div></div>`),
        answer() {
          const node = el(`<div class="message-row items-start"><div data-testid="assistant-message" class="message-bubble">
            ${thoughts ? '<div class="thinking-container"><button class="thinking-header">Thinking about your request • 1s</button></div>' : ''}
            <div class="response-content-markdown"></div></div></div>`);
          return {
            node,
            body: node.querySelector('.response-content-markdown'),
            started: () => node.querySelector('.thinking-header') && (node.querySelector('.thinking-header').textContent = 'Thought for 1s'),
            done: () => node.append(el('<div class="action-buttons"><button aria-label="Copy">⧉</button><button aria-label="Regenerate">↻</button></div>')),
          };
        },
        streaming(on) {
          document.querySelector('[data-fake-stop]').hidden = !on;
          syncSend();
          const status = document.querySelector('[data-fake-status]');
          if (on && !status) main.append(el(`<div role="status" data-fake-status>${L.generating}</div>`));
          if (!on && status) status.remove();
        },
      },
    },
  };
  const layout = layouts[site][layoutName];
  main.insertAdjacentHTML('beforeend', layout.composer);
  if (layout.list) {
    const list = el('<ul id="turns"></ul>');
    thread.append(list);
  }
  const turns = layout.list ? thread.querySelector('ul') : thread;
  const editor = document.querySelector('[data-fake-editor]');
  const sendButton = document.querySelector('[data-fake-send]');
  const form = editor.closest('form');
  const isField = editor instanceof HTMLTextAreaElement;
  const read = () => (isField ? editor.value : editor.innerText).trim();
  const clear = () => {
    if (isField) editor.value = '';
    else editor.innerHTML = '<p><br></p>';
    syncSend();
  };

  // ChatGPT app and Grok show their send button only while the box holds text (Grok shows a voice button instead).
  function syncSend() {
    if (!(site === 'grok' || (site === 'chatgpt' && layoutName === 'app'))) return;
    const empty = !read();
    sendButton.hidden = Boolean(streaming) || empty;
    const voice = document.querySelector('[data-fake-voice]');
    if (voice) voice.hidden = !empty || Boolean(streaming);
  }
  editor.addEventListener('input', syncSend);

  // ---------------------------------------------------------------------------------------------- streaming

  function paragraphs(text) {
    return text.split('\n\n');
  }

  function stream(answerText) {
    const parts = layout.answer();
    turns.append(parts.node);
    const words = answerText.split(' ');
    let shown = 0;
    let timer = null;
    const index = window.__answers.length;
    window.__answers.push(null);
    const render = () => {
      const text = words.slice(0, shown).join(' ');
      parts.body.replaceChildren(...paragraphs(text).map((p) => el(`<p>${esc(p)}</p>`)));
      return text;
    };
    const end = () => {
      clearTimeout(timer);
      streaming = null;
      layout.streaming(false, parts.node);
      if (parts.done) parts.done();
      window.__answers[index] = render();
      if (remount) {
        // The newest bubble is remounted: a new element with the same content replaces it.
        const copy = parts.node.cloneNode(true);
        parts.node.replaceWith(copy);
      }
      if (virtual) {
        // Every turn leaves the page and comes back as a new element, the way virtualised lists re-render.
        const copies = Array.from(turns.children, (node) => node.cloneNode(true));
        turns.replaceChildren();
        setTimeout(() => turns.replaceChildren(...copies), 100);
      }
    };
    streaming = { stop: end };
    layout.streaming(true, parts.node);
    const tick = () => {
      shown += 2;
      render();
      if (shown >= words.length) return end();
      timer = setTimeout(tick, pause && shown === 8 ? pause : 60);
      return undefined;
    };
    timer = setTimeout(() => {
      if (parts.started) parts.started();
      tick();
    }, think || 250);
  }

  function submit() {
    const text = read();
    if (!text || streaming) return;
    window.__sent.push(text);
    n += 1;
    clear();
    turns.append(layout.user(text));
    const answer = `Answer ${n} from the fake ${site} ${layoutName}: thank you for asking, here is a reply that arrives a few words at a time.\n\nA second paragraph, so that the saved text keeps its paragraphs apart and nothing of the page around it.`;
    stream(answer);
  }

  window.__idle = () => !streaming;

  editor.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.altKey) return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !layout.sendsOnModEnter) return;
    event.preventDefault();
    if (streaming && layout.ignoresEnterWhileStreaming) return;
    if (form) form.requestSubmit();
    else submit();
  });
  if (form) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit();
    });
  }
  document.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    if (streaming && button.matches('[data-fake-stop]') && (!button.matches('[data-fake-send]') || button.matches('.stop, [aria-label="' + L.stop + '"]'))) {
      streaming.stop();
      return;
    }
    if (button.matches('[data-fake-send]') && !form) submit();
    else if (button.matches('[data-fake-send]') && form && button.type !== 'submit') form.requestSubmit();
  });

  // Another extension that makes Enter a new line and Ctrl+Enter send (like masachika-kamada/ChatGPT-Ctrl-Enter-
  // Sender): capture phase on document, trusted Enter only; Ctrl+Enter becomes a synthetic plain Enter.
  if (q.get('remap') === '1') {
    document.addEventListener('keydown', (event) => {
      if (!event.isTrusted || event.key !== 'Enter' || !event.target.closest('[data-fake-editor]')) return;
      if (event.shiftKey) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      if (event.ctrlKey || event.metaKey) {
        event.target.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', keyCode: 13, bubbles: true, cancelable: true }));
      } else {
        document.execCommand('insertLineBreak');
      }
    }, true);
  }
})();
