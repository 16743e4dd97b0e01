/**
 * The `<prefix>/presence-update` payloads (docs/presence.md), as the store publishes them on a
 * room's presence topic: JSON text that every node wraps in a frame unchanged.
 */
export type PresenceEvent =
  | { type: 'join' | 'leave'; connectionId: string; roomName: string; timestamp: number }
  | { type: 'state'; connectionId: string; roomName: string; state: unknown; timestamp: number };

export function membershipEventText(type: 'join' | 'leave', roomName: string, connectionId: string, timestamp = Date.now()): string {
  return JSON.stringify({ type, connectionId, roomName, timestamp });
}

/** A state event; `stateText` is the state's JSON as stored (`null` when cleared or expired), spliced in without re-encoding. */
export function stateEventText(roomName: string, connectionId: string, stateText: string, timestamp = Date.now()): string {
  return `{"type":"state","connectionId":${JSON.stringify(connectionId)},"roomName":${JSON.stringify(roomName)},"state":${stateText},"timestamp":${timestamp}}`;
}

/**
 * Whether a message heard on a room's presence topic is an update of that room. Anything that
 * can publish on the Redis may write there; a stray message is dropped, never sent on.
 */
export function isPresenceEventOf(roomName: string, text: string): boolean {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return false;
  }
  if (event === null || typeof event !== 'object') return false;
  const { type, connectionId, roomName: room, timestamp } = event as Record<string, unknown>;
  if (room !== roomName || typeof connectionId !== 'string' || typeof timestamp !== 'number') return false;
  return type === 'join' || type === 'leave' || (type === 'state' && 'state' in event);
}
