// Reading (never verifying: the server does that) the payload of a JWT.

function base64UrlDecode(part) {
  let s = part.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const binary = atob(s);
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export function decodeJwt(token) {
  const parts = String(token || '').trim().split('.');
  if (parts.length !== 3 || !parts[1]) throw new Error('This is not a JWT (three dot-separated parts).');
  let claims;
  try {
    claims = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    throw new Error('The token payload is not readable JSON.');
  }
  if (!claims || typeof claims !== 'object') throw new Error('The token payload is not an object.');
  return claims;
}

/** Our own tokens carry `user_id`; a Supabase access token carries the user's UUID in `sub`. */
export function userIdFromClaims(claims) {
  const id = claims.user_id ?? claims.sub;
  return id === undefined || id === null ? null : String(id);
}

/** Expiry as epoch milliseconds, or null when the token has no `exp`. */
export function expiryMs(claims) {
  return typeof claims.exp === 'number' ? claims.exp * 1000 : null;
}
