import type { Rng } from './prng';

/**
 * Hostile building blocks as JSON *text*, not JS values: text can say what `JSON.stringify` never
 * writes (`-0`, `1e309`, a duplicate key, an own `__proto__` key, an escaped lone surrogate).
 */

const q = (s: string) => JSON.stringify(s);

/** Strings a handler may not expect: empty, control and format characters, surrogates, lookalikes. */
const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\n\r\t',
  '\u202e\u2066rtl',
  '\ufeffbom',
  'e\u0301\u0301\u0301',
  '😀👩‍👩‍👧',
  '\ud800',
  '\udfff\ud800',
  '\uffff',
  '𝕏'.repeat(40),
  '"quoted"',
  '\\',
  '</script><script>',
  '${process.exit()}',
  "'; DROP TABLE x; --",
  '%s%s%n',
  '../../etc/passwd',
  'NaN',
  'Infinity',
  '-0',
  '1e308',
  'null',
  'undefined',
  'true',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '.*',
  '^$',
  '(a+)+$',
  '[',
  '\\d{99999}',
  '*',
  '?',
];

/** Numbers at the edges, as JSON text (`1e309` parses to Infinity, `-0` stays negative zero). */
export const EDGE_NUMBERS = ['0', '-0', '1', '-1', '1.5', '-7.25', '1e308', '-1e308', '1e309', '-1e309', '5e-324', '2e-400', '9007199254740993', '-9007199254740993', '4294967296', '1E+2', '0.0000001'];

const KEYS = ['a', 'channel', 'roomName', 'metadata', 'options', 'strategy', 'name', 'email', 'text', 'message', 'clientId', 'type', 'data', 'timeoutMs', '__proto__', 'constructor', 'prototype', 'toString', 'then', 'length', ''];

export function randomString(rng: Rng, maxLength = 24): string {
  if (rng.chance(0.4)) return rng.pick(ODD_STRINGS);
  const alphabet = rng.pick(['abcxyz019', 'ABC-_.:/', ' "\\{}[],:', 'ßøπ中文العربية', '\u0001\u001f\u007f\u0085\u2028\u2029', '😀🎉🏳️‍🌈']);
  const chars = Array.from(alphabet);
  let s = '';
  const n = rng.int(maxLength + 1);
  for (let i = 0; i < n; i++) s += rng.pick(chars);
  return s;
}

/** A random JSON value of any type, as text, nesting at most `depth` more levels. */
export function randomJson(rng: Rng, depth = 3): string {
  const kind = depth <= 0 ? rng.int(5) : rng.int(8);
  switch (kind) {
    case 0:
      return 'null';
    case 1:
      return rng.chance(0.5) ? 'true' : 'false';
    case 2:
      return rng.chance(0.5) ? rng.pick(EDGE_NUMBERS) : String(rng.between(-1000, 1000));
    case 3:
    case 4:
      return q(randomString(rng));
    case 5:
    case 6: {
      const n = rng.int(5);
      const keys: string[] = [];
      for (let i = 0; i < n; i++) keys.push(rng.chance(0.7) ? rng.pick(KEYS) : randomString(rng, 8));
      return `{${keys.map((k) => `${q(k)}:${randomJson(rng, depth - 1)}`).join(',')}}`;
    }
    default: {
      const n = rng.int(5);
      return `[${Array.from({ length: n }, () => randomJson(rng, depth - 1)).join(',')}]`;
    }
  }
}

/** `depth` levels of arrays or objects around `inner`: depth 1 is `[inner]`. */
export function nested(depth: number, asObject: boolean, inner = ''): string {
  return asObject ? '{"a":'.repeat(depth) + (inner || 'null') + '}'.repeat(depth) : '['.repeat(depth) + inner + ']'.repeat(depth);
}

export interface NameContext {
  /** The server's internal key prefix: names under it are the nodes' own channels. */
  keyPrefix: string;
  maxNameLength: number;
}

/** Room and channel names that the sample exposes, a few of each, so work lands on shared names. */
export const ROOMS = ['lobby', 'lobby:a', 'lobby:b', 'lobby:c'];
export const CHANNELS = ['chat:a', 'chat:b', 'notifications:global', 'private:chat:a'];
/** Records of the sample (`doc:*`: everyone reads, signed-in users write) and ones it does not expose. */
export const RECORDS = ['doc:welcome', 'doc:a', 'doc:b', 'secret:a'];
export const COLLECTIONS = ['docs', 'nope'];

/** A channel or room name, as JSON text: mostly hostile, sometimes one the sample exposes. */
export function hostileName(rng: Rng, ctx: NameContext): string {
  const k = ctx.keyPrefix;
  const max = ctx.maxNameLength;
  return rng.weighted<() => string>([
    [4, () => q(rng.pick([...ROOMS, ...CHANNELS]))],
    [3, () => q(rng.pick([`${k}broadcast`, `${k}node:1`, `${k}node:${rng.int(1e6)}`, `${k}`, `${k}room:lobby`, `${k}conn:x`, k.slice(0, -1), `chat:${k}broadcast`]))],
    [3, () => q(rng.pick(['lobby', 'chat:', 'private:chat:', 'lobby:']) + randomString(rng, 12))],
    [2, () => q(rng.pick(['lobby:', 'chat:']) + 'x'.repeat(max - 6 + rng.int(3)))],
    [1, () => q('lobby:' + 'y'.repeat(rng.pick([1000, 10_000])))],
    [2, () => q(randomString(rng))],
    [2, () => randomJson(rng, 1)],
  ])();
}
