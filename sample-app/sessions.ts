import type { IncomingMessage } from 'node:http';
import { MeshSessionTokens, sessionTokenOf, type AuthenticationResult } from '../lib';

/** What a connection's metadata holds once it connected with a valid token. */
export interface UserMetadata {
  userId: string;
  premium: boolean;
  profile?: { name: string; email: string };
}

/** Demo user ids: letters, digits, `_`, `-` and `.`, at most 64. */
export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value);
}

/**
 * The sample's demo sessions: `POST /login` issues a signed token for a user id (no password:
 * a demo), and the WebSocket upgrade verifies it. What a user may do (premium) comes from the
 * server's directory, never from the client.
 */
export class Sessions {
  private readonly tokens: MeshSessionTokens;
  private readonly premium: ReadonlySet<string>;

  constructor(secret: string, premiumUsers: readonly string[]) {
    this.tokens = new MeshSessionTokens({ secret, audience: 'nestjs-mesh-sample', ttlMs: 12 * 60 * 60 * 1000 });
    this.premium = new Set(premiumUsers);
  }

  issue(userId: string): string {
    return this.tokens.issue(userId);
  }

  /**
   * `authenticateConnection`: no token is an anonymous visitor (accepted, no metadata, its
   * connection id is its client id); a valid token makes the connection its user; a forged,
   * expired or foreign token is refused with 401 before the WebSocket opens.
   */
  authenticate(request: IncomingMessage): AuthenticationResult {
    const token = sessionTokenOf(request);
    if (token === undefined) return true;
    const claims = this.tokens.verify(token);
    if (!claims || !isUserId(claims.sub)) return null;
    const metadata: UserMetadata = { userId: claims.sub, premium: this.premium.has(claims.sub) };
    return { ...metadata };
  }
}
