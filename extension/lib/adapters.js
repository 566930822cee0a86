// Site adapters: validating them (the closed vocabulary of adapters/schema.json, checked by hand: no library,
// no network, nothing executed), choosing the newest valid one per site, and the bundled copies.
//
// An adapter that fails validation is refused with the reasons and never replaces a working one, so a bad
// adapter from the server cannot break capture: the bundled copy (or the last good server copy) stays in use.

export const SITES = ['chatgpt', 'claude', 'gemini', 'grok'];
export const SCHEMA_VERSION = 1;
const MAX_DEPTH = 8;

const CONTROLS = ['composer', 'send', 'stop'];
const SEND_KEYS = ['Enter', 'Mod+Enter'];
const LAYOUT_REQUIRED = ['name', 'detect', 'composer', 'send', 'stop', 'user_turn', 'answer', 'answer_body', 'strip', 'complete'];
const LAYOUT_ALLOWED = new Set([...LAYOUT_REQUIRED, 'notes', 'send_keys', 'streaming', 'settle_ms']);
const HOOK_LISTS = ['composer', 'send', 'stop', 'user_turn', 'answer', 'answer_body'];
const HOOK_CONDITIONS = ['page_has', 'answer_is', 'answer_has', 'answer_in', 'after_answer'];

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const SELECTOR_RE = /^[^{};<]*$/;
const ATTR_RE = /^[a-zA-Z][a-zA-Z0-9_:.-]{0,63}$/;
const LANG_RE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;
const HOST_RE = /^[a-z0-9.-]{1,253}$/;
const VERSION_RE = /^[0-9]{1,8}([.-][0-9]{1,8}){0,3}$/;
const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/;

function onlyKeys(value, allowed, path, errors) {
  for (const key of Object.keys(value)) if (!allowed.has(key)) errors.push(`${path}: unknown field "${key}"`);
}

function checkSelector(value, path, errors) {
  if (typeof value !== 'string' || !value.length || value.length > 300 || !SELECTOR_RE.test(value)) {
    errors.push(`${path}: must be a CSS selector of 1-300 characters without { } ; <`);
  }
}

function checkHook(hook, path, errors) {
  if (typeof hook === 'string') return checkSelector(hook, path, errors);
  if (!isObject(hook)) return errors.push(`${path}: must be a selector or {css, ...}`);
  onlyKeys(hook, new Set(['css', 'same_attr', 'lang', 'fallback']), path, errors);
  checkSelector(hook.css, `${path}.css`, errors);
  if ('same_attr' in hook) {
    const pair = hook.same_attr;
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((a) => typeof a === 'string' && ATTR_RE.test(a))) {
      errors.push(`${path}.same_attr: must be two attribute names`);
    }
  }
  if ('lang' in hook && !(typeof hook.lang === 'string' && LANG_RE.test(hook.lang))) errors.push(`${path}.lang: must be a language tag`);
  if ('fallback' in hook && typeof hook.fallback !== 'boolean') errors.push(`${path}.fallback: must be true or false`);
  return undefined;
}

function checkHooks(list, path, errors) {
  if (!Array.isArray(list) || list.length < 1 || list.length > 16) return errors.push(`${path}: must be a list of 1-16 hooks`);
  list.forEach((hook, i) => checkHook(hook, `${path}[${i}]`, errors));
  return undefined;
}

function checkCondition(cond, path, errors, depth = 0) {
  if (depth > MAX_DEPTH) return errors.push(`${path}: nested deeper than ${MAX_DEPTH}`);
  if (!isObject(cond) || Object.keys(cond).length !== 1) return errors.push(`${path}: must be an object with exactly one key`);
  const [key] = Object.keys(cond);
  const value = cond[key];
  if (key === 'all' || key === 'any') {
    if (!Array.isArray(value) || value.length < 1 || value.length > 8) return errors.push(`${path}.${key}: must list 1-8 conditions`);
    value.forEach((c, i) => checkCondition(c, `${path}.${key}[${i}]`, errors, depth + 1));
  } else if (key === 'not') checkCondition(value, `${path}.not`, errors, depth + 1);
  else if (key === 'always') {
    if (value !== true) errors.push(`${path}.always: must be true`);
  } else if (key === 'control') {
    if (!CONTROLS.includes(value)) errors.push(`${path}.control: must be one of ${CONTROLS.join(', ')}`);
  } else if (key === 'body_text') {
    if (typeof value !== 'boolean') errors.push(`${path}.body_text: must be true or false`);
  } else if (HOOK_CONDITIONS.includes(key)) checkHook(value, `${path}.${key}`, errors);
  else errors.push(`${path}: unknown condition "${key}"`);
  return undefined;
}

function checkLayout(layout, path, errors) {
  if (!isObject(layout)) return errors.push(`${path}: must be an object`);
  onlyKeys(layout, LAYOUT_ALLOWED, path, errors);
  for (const key of LAYOUT_REQUIRED) if (!(key in layout)) errors.push(`${path}: "${key}" is missing`);
  if ('name' in layout && !(typeof layout.name === 'string' && NAME_RE.test(layout.name))) errors.push(`${path}.name: must be a short lower-case name`);
  if ('notes' in layout && !(typeof layout.notes === 'string' && layout.notes.length <= 2000)) errors.push(`${path}.notes: must be text of at most 2000 characters`);
  for (const key of HOOK_LISTS) if (key in layout) checkHooks(layout[key], `${path}.${key}`, errors);
  for (const key of ['detect', 'complete', 'streaming']) if (key in layout) checkCondition(layout[key], `${path}.${key}`, errors);
  if ('strip' in layout) {
    if (!Array.isArray(layout.strip) || layout.strip.length > 32) errors.push(`${path}.strip: must be a list of at most 32 selectors`);
    else layout.strip.forEach((s, i) => checkSelector(s, `${path}.strip[${i}]`, errors));
  }
  if ('send_keys' in layout) {
    const keys = layout.send_keys;
    if (!Array.isArray(keys) || !keys.length || keys.length > 3 || new Set(keys).size !== keys.length || !keys.every((k) => SEND_KEYS.includes(k))) {
      errors.push(`${path}.send_keys: must list distinct keys among ${SEND_KEYS.join(', ')}`);
    }
  }
  if ('settle_ms' in layout && !(Number.isInteger(layout.settle_ms) && layout.settle_ms >= 1000 && layout.settle_ms <= 120000)) {
    errors.push(`${path}.settle_ms: must be a whole number of milliseconds between 1000 and 120000`);
  }
  return undefined;
}

/** The reasons an adapter is refused (an empty list when it is valid). */
export function validateAdapter(adapter, expectedSite = null) {
  const errors = [];
  if (!isObject(adapter)) return ['the adapter must be a JSON object'];
  onlyKeys(adapter, new Set(['schema_version', 'site', 'hosts', 'version', 'notes', 'layouts']), 'adapter', errors);
  if (adapter.schema_version !== SCHEMA_VERSION) errors.push(`adapter.schema_version: must be ${SCHEMA_VERSION}`);
  if (!SITES.includes(adapter.site)) errors.push(`adapter.site: must be one of ${SITES.join(', ')}`);
  else if (expectedSite && adapter.site !== expectedSite) errors.push(`adapter.site: "${adapter.site}" given for "${expectedSite}"`);
  const hosts = adapter.hosts;
  if (!Array.isArray(hosts) || !hosts.length || hosts.length > 10 || new Set(hosts).size !== hosts.length || !hosts.every((h) => typeof h === 'string' && HOST_RE.test(h))) {
    errors.push('adapter.hosts: must list 1-10 distinct host names');
  }
  if (!(typeof adapter.version === 'string' && VERSION_RE.test(adapter.version))) errors.push('adapter.version: must be a date or number such as 2026-12-05');
  if ('notes' in adapter && !(typeof adapter.notes === 'string' && adapter.notes.length <= 2000)) errors.push('adapter.notes: must be text of at most 2000 characters');
  if (!Array.isArray(adapter.layouts) || adapter.layouts.length < 1 || adapter.layouts.length > 12) errors.push('adapter.layouts: must list 1-12 layouts');
  else {
    adapter.layouts.forEach((layout, i) => checkLayout(layout, `adapter.layouts[${i}]`, errors));
    const names = adapter.layouts.map((l) => l && l.name);
    if (new Set(names).size !== names.length) errors.push('adapter.layouts: layout names must be distinct');
  }
  return errors;
}

/** Orders versions ("2026-12-05", "2026-12-05.2", "7") as dotted numbers: negative, zero or positive. */
export function compareVersions(a, b) {
  const pa = String(a).split(/[.-]/).map(Number);
  const pb = String(b).split(/[.-]/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d) return d;
  }
  return 0;
}

/**
 * The adapter to use per site: the server's when it is valid and not older than the bundled one, else the bundled
 * copy. Returns {adapters: {site: adapter}, sources: {site: 'server'|'bundled'}, errors: {site: [reasons]}}.
 */
export function chooseAdapters(bundled, remote) {
  const adapters = {};
  const sources = {};
  const errors = {};
  for (const site of SITES) {
    const local = bundled && bundled[site];
    const candidate = remote && isObject(remote) ? remote[site] : undefined;
    if (candidate !== undefined) {
      const problems = validateAdapter(candidate, site);
      if (problems.length) errors[site] = problems;
      else if (!local || compareVersions(candidate.version, local.version) >= 0) {
        adapters[site] = candidate;
        sources[site] = 'server';
        continue;
      }
    }
    if (local) {
      adapters[site] = local;
      sources[site] = 'bundled';
    }
  }
  return { adapters, sources, errors };
}

/** The site an adapter set assigns to a host name (chatgpt.com -> chatgpt), or null. */
export function siteForHost(adapters, hostname) {
  for (const site of SITES) {
    const adapter = adapters && adapters[site];
    if (adapter && Array.isArray(adapter.hosts) && adapter.hosts.includes(hostname)) return site;
  }
  return null;
}
