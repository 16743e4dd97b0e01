import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { MeshConfigurationError } from '../errors';

export interface MeshSessionTokensOptions {
  /** The HMAC-SHA256 key, at least 32 bytes (a string counts as UTF-8). Every node needs the same one. */
  secret: string | Buffer;
  /** Lifetime of an issued token in ms. @default 86400000 (24 hours) */
  ttlMs?: number;
  /** Who tokens are for: a token issued with another audience (another app sharing the secret) is refused. @default 'nestjs-mesh' */
  audience?: string;
}

/** What a valid token says. */
export interface MeshSessionClaims {
  /** The subject: the user id the token was issued to. */
  sub: string;
  /** Audience. */
  aud: string;
  /** Issued at, ms since the epoch. */
  iat: number;
  /** Expires at, ms since the epoch. */
  exp: number;
}

const VERSION = 'v1';
/** Longer strings are not tokens this class issued: refused before any work. */
const MAX_TOKEN_LENGTH = 2048;
const MAX_SUBJECT_LENGTH = 256;

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * Signed session tokens (HMAC-SHA256 from `node:crypto`) for connect-time authentication: issue
 * one at login, let the client put it in the WebSocket URL (`?token=...`: browsers cannot set
 * headers on a WebSocket), and verify it in `authenticateConnection`. A token is
 * `v1.<claims>.<mac>` with base64url parts; `verify` refuses anything forged, expired, issued for
 * another audience, or malformed, in constant time for the MAC comparison. Tokens cannot be
 * revoked before they expire: keep `ttlMs` short where that matters.
 */
export class MeshSessionTokens {
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly audience: string;

  constructor(options: MeshSessionTokensOptions) {
    const key = typeof options?.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options?.secret;
    if (!Buffer.isBuffer(key) || key.length < 32) throw new MeshConfigurationError('MeshSessionTokens: the secret must be at least 32 bytes');
    const ttlMs = options.ttlMs ?? 86_400_000;
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new MeshConfigurationError(`MeshSessionTokens: ttlMs must be a positive integer, got ${String(options.ttlMs)}`);
    this.key = Buffer.from(key);
    this.ttlMs = ttlMs;
    this.audience = options.audience ?? 'nestjs-mesh';
  }

  /** A token for `subject` (a user id), valid for `ttlMs`. */
  issue(subject: string, ttlMs: number = this.ttlMs, now: number = Date.now()): string {
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
      throw new TypeError(`MeshSessionTokens.issue: the subject must be a string of 1 to ${MAX_SUBJECT_LENGTH} characters`);
    }
    const claims: MeshSessionClaims = { sub: subject, aud: this.audience, iat: now, exp: now + ttlMs };
    const body = `${VERSION}.${base64url(JSON.stringify(claims))}`;
    return `${body}.${base64url(this.mac(body))}`;
  }

  /** The claims of a valid token, or null for anything else (never throws). */
  verify(token: unknown, now: number = Date.now()): MeshSessionClaims | null {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null;
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) return null;
    const given = Buffer.from(parts[2], 'base64url');
    const expected = this.mac(`${parts[0]}.${parts[1]}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let claims: Partial<MeshSessionClaims>;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Partial<MeshSessionClaims>;
    } catch {
      return null;
    }
    if (typeof claims !== 'object' || claims === null) return null;
    const { sub, aud, iat, exp } = claims;
    if (typeof sub !== 'string' || sub.length === 0 || aud !== this.audience || typeof iat !== 'number' || typeof exp !== 'number') return null;
    return exp > now ? { sub, aud, iat, exp } : null;
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }
}

/**
 * The token an upgrade request carries: the `token` query parameter (or `param`), else an
 * `Authorization: Bearer` header (for clients that can set headers). Undefined when there is none.
 */
export function sessionTokenOf(request: IncomingMessage, param = 'token'): string | undefined {
  let query: string | null = null;
  try {
    query = new URL(request.url ?? '/', 'http://localhost').searchParams.get(param);
  } catch {
    // not a URL: no query token
  }
  if (query) return query;
  const header = request.headers.authorization;
  return typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() || undefined : undefined;
}
