// The Memory Layer HTTP client. It never throws: every call answers
// {ok, status, data, error, retryAfter, etag} where status 0 means the server could not be reached (or timed out).

export const SAVE_TIMEOUT_MS = 20000;

/** "http://host:8000/" -> "http://host:8000"; keeps a path prefix such as /api/v1. Throws on anything else. */
export function normalizeBaseUrl(raw) {
  let url;
  try {
    url = new URL(String(raw || '').trim());
  } catch {
    throw new Error('The server address must be a full URL, such as http://127.0.0.1:8000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('The server address must start with http:// or https://');
  if (url.username || url.password) throw new Error('The server address must not contain a user name or password');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The host permission pattern for a base URL (match patterns take no port). */
export function originPattern(baseUrl) {
  const url = new URL(baseUrl);
  return `${url.protocol}//${url.hostname}/*`;
}

export function joinUrl(base, path) {
  return base.replace(/\/+$/, '') + path;
}

function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, (date - Date.now()) / 1000) : null;
}

export async function call(base, path, { method = 'GET', token = null, body, headers = {}, timeoutMs = SAVE_TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const sent = { Accept: 'application/json', ...headers };
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  if (token) sent.Authorization = `Bearer ${token}`;
  try {
    const response = await fetch(joinUrl(base, path), {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    let error = null;
    if (!response.ok) {
      error = data && typeof data.error === 'string' ? data.error : text.slice(0, 300) || `HTTP ${response.status}`;
    }
    return {
      ok: response.ok,
      status: response.status,
      data,
      error,
      retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
      etag: response.headers.get('ETag'),
    };
  } catch (err) {
    const timedOut = controller.signal.aborted;
    return {
      ok: false,
      status: 0,
      data: null,
      error: timedOut ? `no answer within ${timeoutMs} ms` : `could not reach the server (${err && err.message ? err.message : err})`,
      retryAfter: null,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Worth trying again later: unreachable, timed out, rate limited or a server error. */
export function isRetryable(result) {
  return result.status === 0 || result.status === 408 || result.status === 429 || result.status >= 500;
}
