import { WebSocket } from 'ws';

type FrameBuilder = { frame(data: Buffer, options: object): Buffer[] };
const Sender = (WebSocket as unknown as { Sender: FrameBuilder }).Sender;

/**
 * A text frame encoded once for many sockets: its UTF-8 bytes, and the complete WebSocket frame
 * (header + payload) that `ws` would build for each of them. Servers send unmasked and, with
 * compression off (as here), the frame is the same for every socket, so a broadcast pays for
 * encoding and framing once per node instead of once per recipient (Socket.IO does the same).
 */
export class PreparedFrame {
  readonly bytes: Buffer;
  readonly frame: Buffer[];

  constructor(text: string) {
    this.bytes = Buffer.from(text);
    this.frame = Sender.frame(this.bytes, {
      fin: true,
      rsv1: false,
      opcode: 1,
      mask: false,
      readOnly: false,
    });
  }
}

/** Encodes once when a frame goes to more than one socket. */
export function toWire(frame: string, recipients: number): string | PreparedFrame {
  return recipients > 1 ? new PreparedFrame(frame) : frame;
}
