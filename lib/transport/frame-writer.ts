import type { WebSocket } from 'ws';
import { frameText, type PreparedFrame } from './prepared-frame';

/** The part of ws's internal sender this writer relies on (ws 8.x). */
interface WsSender {
  /** 0 while nothing is queued behind a compression or a Blob. */
  _state?: number;
  /** Writes complete frames (header and payload) as they are. */
  sendFrame?(list: Buffer[]): void;
}

/**
 * Writes one text frame to a socket as a single buffer. The one place that reaches into ws's
 * internals: when its sender is idle (nothing queued behind a compression or a Blob, which this
 * library never uses) a frame built by `frameText` goes out as is, one write per message and, for
 * a broadcast, framed once per node rather than once per recipient. Anything else, a busy sender
 * or a ws whose internals changed, takes ws's own `send`, which is always correct, only slower.
 * ws is held to patch releases of 8.21 (package.json) so these internals cannot change unseen.
 */
export function writeFrame(socket: WebSocket, frame: string | PreparedFrame): void {
  const sender = (socket as unknown as { _sender?: WsSender })._sender;
  if (typeof sender?.sendFrame === 'function' && sender._state === 0) sender.sendFrame([typeof frame === 'string' ? frameText(frame) : frame.frame]);
  else socket.send(typeof frame === 'string' ? frame : frame.text);
}

/**
 * Writes several text frames to a socket in one write (the heartbeat's `latency` and
 * `latency:request`): one system call where there would be one per frame. A busy sender, or a
 * ws whose internals changed, takes ws's own `send` for each.
 */
export function writeFrames(socket: WebSocket, frames: readonly string[]): void {
  const sender = (socket as unknown as { _sender?: WsSender })._sender;
  if (typeof sender?.sendFrame === 'function' && sender._state === 0) sender.sendFrame([Buffer.concat(frames.map(frameText))]);
  else for (const frame of frames) socket.send(frame);
}
