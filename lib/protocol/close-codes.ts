/** WebSocket close codes with a meaning in this protocol. */
export const CloseCode = {
  NORMAL: 1000,
  /** The node is shutting down: reconnect, possibly to another node. */
  GOING_AWAY: 1001,
  /** The connection broke a rule (kept sending far over the rate limit). */
  POLICY_VIOLATION: 1008,
  /** A frame larger than four times the server's `maxPayload`. */
  TOO_BIG: 1009,
  /** The node was fenced off by the cluster: reconnect (to any node). */
  SERVICE_RESTART: 1012,
  /** The same client id connected again elsewhere; this socket must not reconnect. */
  SUPERSEDED: 4001,
} as const;

/**
 * Whether a server may close a socket with `code` (RFC 6455 §7.4: the defined codes a peer may
 * send, and 3000–4999 for libraries and applications). `ws` throws for any other code.
 */
export function isValidCloseCode(code: unknown): code is number {
  if (typeof code !== 'number' || !Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}
