import { Rng } from './prng';
import { nested, randomJson } from './values';

/** FNV-1a: a stable 32-bit hash of a string, to seed an answer from the data it answers. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** The data of an invoke as the target sees it (the server copies it through JSON, `undefined` as null). */
const canonical = (data: unknown) => JSON.stringify(data === undefined ? null : data);

/**
 * The payload a fuzz client answers an invoke with, as JSON text: usually a result, sometimes an
 * error, a shape the server did not expect, or one nested too deep. It is derived from the data
 * alone, so the connection that asked can tell what the target answered (`checkInvokeReply`).
 */
export function invokeAnswer(data: unknown): string {
  const rng = new Rng(fnv1a(canonical(data)));
  return rng.weighted<() => string>([
    [6, () => `{"result":${randomJson(rng, 3)}}`],
    [1, () => '{"error":"refused","code":"ENOTFOUND","name":"CommandError"}'],
    [1, () => rng.pick(['null', '42', '"text"', '[]', '{}', '{"error":1}', '{"result":{"__proto__":{"x":1}}}'])],
    [1, () => `{"result":${nested(rng.pick([62, 63, 200]), rng.chance(0.5))}}`],
    // Over maxPayload: the server fails the invoke at once (a bug this suite found: it used to
    // answer the target under the server's invoke id and let the caller wait out its timeout).
    [1, () => `{"result":"${'r'.repeat(1024 * 1024)}"}`],
  ])();
}

/**
 * Checks the sample's `invoke` reply against what its target answered: a result must be the
 * target's result for that data, never another client's (an error, a timeout say, may come
 * instead). Returns what is wrong, or undefined.
 */
export function checkInvokeReply(request: string, reply: unknown): string | undefined {
  if (typeof reply !== 'object' || reply === null || !('result' in reply)) return undefined;
  let data: unknown;
  try {
    data = (JSON.parse(request) as { payload?: { data?: unknown } }).payload?.data;
  } catch {
    return undefined;
  }
  const answer = JSON.parse(invokeAnswer(data)) as unknown;
  if (typeof answer !== 'object' || answer === null || !('result' in answer)) return undefined;
  const expected = JSON.stringify((answer as { result: unknown }).result);
  const got = JSON.stringify((reply as { result: unknown }).result);
  return got === expected ? undefined : `invoke result ${got.slice(0, 100)} is not the target's answer ${expected.slice(0, 100)}`;
}
