/**
 * Server-to-client WebSocket text frames built here as one buffer: header and UTF-8 payload
 * together. Servers send unmasked and, with no compression applied, the bytes of a frame are the
 * same for every socket, so a broadcast is encoded and framed once per node instead of once per
 * recipient (Socket.IO does the same), and every send is one buffer written to the socket (ws's
 * own path writes header and payload as two chunks: a corked writev per message).
 */
export class PreparedFrame {
  /** The complete frame: header + payload. */
  readonly frame: Buffer;

  constructor(readonly text: string) {
    this.frame = frameText(text);
  }
}

/** One unmasked, final text frame (RFC 6455 §5.2) holding `text`. */
export function frameText(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/** Encodes once when a frame goes to more than one socket. */
export function toWire(frame: string, recipients: number): string | PreparedFrame {
  return recipients > 1 ? new PreparedFrame(frame) : frame;
}
