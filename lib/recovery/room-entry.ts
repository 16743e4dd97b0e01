import type { StreamPosition } from './recover-options';

/** A recoverable room's broadcast as its stream keeps it: `<excluded ids>\n<frame>` (connection ids hold no commas). */
export function encodeRoomEntry(frame: string, exclude: readonly string[]): string {
  return `${exclude.join(',')}\n${frame}`;
}

/** The entry's parts; undefined for text that is not one (the stream is in Redis: input like any other). */
export function decodeRoomEntry(message: string): { exclude: string[]; frame: string } | undefined {
  const newline = message.indexOf('\n');
  if (newline < 0 || message.charCodeAt(message.length - 1) !== 125 /* } */) return undefined;
  return { exclude: newline === 0 ? [] : message.slice(0, newline).split(','), frame: message.slice(newline + 1) };
}

/**
 * The frame a member gets for a recoverable room's broadcast: the event frame with its
 * `position` in the room's stream, which the client sends back to recover after a reconnect.
 */
export function positionedFrame(frame: string, room: string, { epoch, offset }: StreamPosition): string {
  return `${frame.slice(0, -1)},"position":{"room":${JSON.stringify(room)},"epoch":${JSON.stringify(epoch)},"offset":${offset}}}`;
}
