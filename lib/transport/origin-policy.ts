import type { IncomingMessage } from 'node:http';
import type { AllowedOrigins } from '../interfaces/mesh-module-options.interface';

/** Decides at the upgrade whether the page that opens a socket may connect. */
export type OriginCheck = (request: IncomingMessage) => boolean | Promise<boolean>;

function originOf(request: IncomingMessage): string | undefined {
  const origin = request.headers.origin;
  return typeof origin === 'string' && origin.length > 0 ? origin : undefined;
}

/** The `Host` header without a default port, lower-cased (as `URL.host` gives an origin's). */
function hostOf(request: IncomingMessage): string {
  return (request.headers.host ?? '').toLowerCase().replace(/:(80|443)$/, '');
}

/**
 * Only pages from the endpoint's own host. Browsers always send `Origin` on a WebSocket upgrade
 * and, unlike fetch, apply no CORS check to it: without this a page on any site could open a
 * socket with the user's cookies (cross-site WebSocket hijacking). Clients that are not browsers
 * send no `Origin` (and could send any), so they pass: the check protects browser users.
 */
function sameHost(request: IncomingMessage): boolean {
  const origin = originOf(request);
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file:// pages) or garbage
  }
  return host.length > 0 && host === hostOf(request);
}

/** The check for the `allowedOrigins` option (see its documentation). */
export function originPolicy(allowed: AllowedOrigins | undefined): OriginCheck {
  if (allowed === undefined) return sameHost;
  if (typeof allowed === 'function') return (request) => allowed(originOf(request), request);
  const entries: ReadonlyArray<string | RegExp> = typeof allowed === 'string' || allowed instanceof RegExp ? [allowed] : allowed;
  if (entries.includes('*')) return () => true;
  const exact = new Set(entries.filter((e): e is string => typeof e === 'string').map((e) => e.toLowerCase()));
  const patterns = entries.filter((e): e is RegExp => e instanceof RegExp);
  return (request) => {
    const origin = originOf(request);
    if (origin === undefined) return true;
    if (exact.has(origin.toLowerCase())) return true;
    return patterns.some((pattern) => {
      pattern.lastIndex = 0;
      return pattern.test(origin);
    });
  };
}
