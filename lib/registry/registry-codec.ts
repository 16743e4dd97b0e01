/** How the Redis registry stores a client's owner: `node|epoch|connectedAt` (written by its Lua). */
export function decodeOwner(text: string): { nodeId: string; epoch: number; connectedAt: number } | null {
  const [nodeId, epoch, connectedAt] = text.split('|');
  if (!nodeId || epoch === undefined || connectedAt === undefined) return null;
  return { nodeId, epoch: Number(epoch), connectedAt: Number(connectedAt) };
}

/** Client metadata as stored: opaque JSON text (Lua never decodes it), '' for none. */
export function encodeClientMetadata(metadata: unknown): string {
  if (metadata === undefined || metadata === null) return '';
  const text = JSON.stringify(metadata);
  if (text === undefined) throw new TypeError('Client metadata must be JSON-serialisable');
  return text;
}

export function decodeClientMetadata<TMeta>(text: string | null | undefined): TMeta | null {
  return text ? (JSON.parse(text) as TMeta) : null;
}
