import type { FuzzConnection } from './fuzz-connection';
import type { Limits } from './oracle';

/** How a connection that broke a hard rule ended. */
export interface ProbeResult {
  name: string;
  expectedCode: number;
  closeCode?: number;
  /** Replies by error code before the close. */
  replies: Record<string, number>;
  problems: string[];
}

type Open = (label: string) => Promise<FuzzConnection>;

async function probe(name: string, expectedCode: number, open: Open, act: (connection: FuzzConnection) => void): Promise<ProbeResult> {
  const connection = await open(name);
  connection.expectClose = true;
  act(connection);
  const closeCode = await connection.whenClosed();
  const problems = [...connection.problems];
  if (closeCode !== expectedCode) problems.push(`${name}: closed with ${closeCode}, expected ${expectedCode}`);
  return { name, expectedCode, closeCode, replies: Object.fromEntries(connection.replyCodes), problems };
}

/**
 * A client far over the rate limit: `frames` noops written at once. The limiter answers
 * ERATELIMIT once the bucket is empty and closes with 1008 once the debt reaches another limit's
 * worth, so `frames` must exceed twice the limit (three times leaves room for the refill while they
 * are written). Replies that do come must come once each.
 */
export function flood(open: Open, limits: Limits, frames: number): Promise<ProbeResult> {
  return probe('flood', 1008, open, (connection) => {
    for (let i = 1; i <= frames; i++) connection.send({ data: `{"id":${i},"command":"${limits.prefix}/noop","payload":{}}`, binary: false, kind: 'flood' });
  }).then((result) => {
    if (!result.replies.ERATELIMIT) result.problems.push('flood: closed without a single ERATELIMIT reply first');
    return result;
  });
}

/** A frame over four times `maxPayload`: the socket is closed with 1009 rather than buffered. */
export function oversize(open: Open, limits: Limits): Promise<ProbeResult> {
  return probe('oversize', 1009, open, (connection) => {
    const frame = `{"id":1,"command":"echo","payload":"${'o'.repeat(4 * limits.maxPayload)}"}`;
    connection.send({ data: frame, binary: false, kind: 'oversize' });
  });
}

/** A text frame that is not UTF-8: RFC 6455 has the server fail the connection with 1007. */
export function invalidUtf8(open: Open, bytes: number[]): Promise<ProbeResult> {
  return probe('invalid-utf8', 1007, open, (connection) => {
    const data = Buffer.concat([Buffer.from('{"id":1,"command":"echo","payload":"'), Buffer.from(bytes), Buffer.from('"}')]);
    connection.socket.send(data, { binary: false });
  });
}
