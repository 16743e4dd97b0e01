import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A WebSocket client that stops reading after its handshake: the slowest possible consumer. */
export interface PausedClient {
  /** The id the server assigned (read from its first frame). */
  connectionId: string;
  socket: Socket;
  /** Resolves when the server closes or drops the TCP connection. */
  closed: Promise<void>;
}

/**
 * Opens a WebSocket by hand over a plain TCP socket, reads the server's `<prefix>/assign-id`
 * frame, then pauses the socket: the kernel buffers fill and the server's queue grows, as with a
 * client on a stalled network.
 */
export async function pausedClient(url: string, prefix = 'mesh'): Promise<PausedClient> {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect(Number(port), hostname);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.write(
    `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const connectionId = await new Promise<string>((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headerEnd = received.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      // The first frame: a short unmasked text frame (2-byte header).
      const frame = received.subarray(headerEnd + 4);
      if (frame.length < 2 || frame.length < 2 + (frame[1] & 0x7f)) return;
      const text = frame.subarray(2, 2 + (frame[1] & 0x7f)).toString();
      socket.off('data', onData);
      const parsed = JSON.parse(text) as { command: string; payload: string };
      if (parsed.command !== `${prefix}/assign-id`) reject(new Error(`expected ${prefix}/assign-id first, got ${text}`));
      else resolve(parsed.payload);
    };
    socket.on('data', onData);
  });
  socket.pause();
  return { connectionId, socket, closed };
}
