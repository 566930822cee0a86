// A small fake of an AI chat page, enough for the extension's content script: a composer that the page reads
// when sent (Enter or its send button) and an answer that streams in over about a second. What was sent is kept
// in window.__sent, each answer's final text in window.__answers.
(() => {
  const site = document.body.dataset.site;
  const editor = document.querySelector('[data-fake-editor]');
  const send = document.querySelector('[data-fake-send]');
  const thread = document.getElementById('thread');
  const form = editor.closest('form');
  window.__sent = [];
  window.__answers = [];
  let streaming = false;

  const isField = editor instanceof HTMLTextAreaElement;
  const read = () => (isField ? editor.value : editor.innerText).trim();
  const clear = () => {
    if (isField) editor.value = '';
    else editor.innerHTML = '<p><br></p>';
  };

  function el(html) {
    const t = document.createElement('template');
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  const layouts = {
    chatgpt: {
      user: () => el('<div data-message-author-role="user"></div>'),
      answer: () => el('<div data-message-author-role="assistant"><div class="markdown"></div></div>'),
      target: (node) => node.querySelector('.markdown'),
      streaming(on) {
        send.hidden = on;
        document.querySelector('[data-testid="stop-button"]').hidden = !on;
      },
    },
    claude: {
      user: () => el('<div data-testid="user-message"></div>'),
      answer: () => el('<div data-is-streaming="true"><div class="font-claude-response"></div></div>'),
      target: (node) => node.querySelector('.font-claude-response'),
      streaming(on, node) {
        if (node) node.dataset.isStreaming = String(on);
      },
    },
    gemini: {
      user: () => el('<user-query><div class="query-text"></div></user-query>'),
      answer: () => el('<model-response><message-content><div class="markdown"></div></message-content></model-response>'),
      target: (node) => node.querySelector('.markdown'),
      streaming(on) {
        send.classList.toggle('stop', on);
        send.setAttribute('aria-label', on ? 'Stop response' : 'Send message');
      },
    },
    grok: {
      user: () => el('<div class="message-row items-end"><div class="message-bubble"></div></div>'),
      answer: () => el('<div class="message-row items-start"><div class="message-bubble"></div></div>'),
      target: (node) => node.querySelector('.message-bubble'),
      streaming() {},
    },
  };
  const layout = layouts[site];

  // ChatGPT's fake pauses mid-answer for 2 s with its stop button shown, like a tool call: the extension must
  // not take the half answer for the whole one.
  const PAUSE_AFTER = site === 'chatgpt' ? 6 : -1;

  function stream(answer) {
    const node = layout.answer();
    thread.append(node);
    const target = layout.target(node);
    const words = answer.split(' ');
    let shown = 0;
    streaming = true;
    layout.streaming(true, node);
    const tick = () => {
      shown += 2;
      target.textContent = words.slice(0, shown).join(' ');
      if (shown >= words.length) {
        streaming = false;
        layout.streaming(false, node);
        return;
      }
      setTimeout(tick, shown === PAUSE_AFTER ? 2000 : 80);
    };
    setTimeout(tick, 300); // "thinking": the answer element exists, still empty
  }

  function submit() {
    const text = read();
    if (!text || streaming) return;
    window.__sent.push(text);
    clear();
    const user = layout.user();
    (user.querySelector('.query-text, .message-bubble') || user).textContent = text;
    thread.append(user);
    const n = window.__sent.length;
    const answer = `Answer ${n} from the fake ${site}: thank you for asking, here is a reply that arrives a few words at a time so that the extension has to wait until it stops changing.`;
    window.__answers.push(answer);
    stream(answer);
  }

  editor.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      if (form) form.requestSubmit();
      else submit();
    }
  });
  if (form) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit();
    });
  } else {
    send.addEventListener('click', () => submit());
  }
})();
