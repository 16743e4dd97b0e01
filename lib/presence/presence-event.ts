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
