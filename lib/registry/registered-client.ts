/** A client as the registry knows it. */
export interface RegisteredClient<TMeta = unknown> {
  clientId: string;
  /** The node that owns the client's socket. */
  nodeId: string;
  /** When this registration was made (ms since the epoch, the registering node's clock). */
  connectedAt: number;
  /**
   * Ownership epoch: grows with every registration of any client. A message about a client
   * (a kick) carries the epoch it is about, so it never affects a newer registration.
   */
  epoch: number;
  metadata: TMeta | null;
}

/** What `register` reports. */
export interface RegisterResult {
  /** The node that owned the client before, if it was another node (it must close its socket). */
  supersededNodeId: string | null;
  /** The epoch of this registration. */
  epoch: number;
}

/** Owner fields as stored (metadata is kept apart, as opaque JSON). */
export function encodeOwner(nodeId: string, epoch: number, connectedAt: number): string {
  return `${nodeId}|${epoch}|${connectedAt}`;
}

export function decodeOwner(text: string): { nodeId: string; epoch: number; connectedAt: number } | null {
  const [nodeId, epoch, connectedAt] = text.split('|');
  if (!nodeId || epoch === undefined || connectedAt === undefined) return null;
  return { nodeId, epoch: Number(epoch), connectedAt: Number(connectedAt) };
}

export function encodeClientMetadata(metadata: unknown): string {
  if (metadata === undefined || metadata === null) return '';
  const text = JSON.stringify(metadata);
  if (text === undefined) throw new TypeError('Client metadata must be JSON-serialisable');
  return text;
}

export function decodeClientMetadata<TMeta>(text: string | null | undefined): TMeta | null {
  return text ? (JSON.parse(text) as TMeta) : null;
}
