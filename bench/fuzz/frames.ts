import type { Rng } from './prng';
import { CHANNELS, COLLECTIONS, EDGE_NUMBERS, hostileName, nested, randomJson, randomString, RECORDS, ROOMS, type NameContext } from './values';

/** One frame to send, exactly as bytes or text, and what it was meant to test. */
export interface FuzzFrame {
  data: string | Buffer;
  binary: boolean;
  /** The generator's name for it (reported with a failing frame). */
  kind: string;
  /** Large: one such frame in flight on the node at a time (see `HeavyGate`). */
  heavy?: boolean;
}

export interface GeneratorContext extends NameContext {
  /** The built-in command prefix (`mesh`). */
  prefix: string;
  maxPayload: number;
  /** Client ids of the signed-in fuzz connections (targets for `invoke`). */
  users: readonly string[];
  /**
   * Answer invokes under guessed server ids (`inv-<n>`). Only for connections that are never
   * invoked: a target's own guess may rightly answer what is pending on it, and the caller could
   * not tell; from anyone else the server must ignore it (the caller's result check sees if not).
   */
  guessInvokeIds?: boolean;
}

const q = (s: string) => JSON.stringify(s);
const obj = (fields: Record<string, string>) => `{${Object.entries(fields).map(([k, v]) => `${q(k)}:${v}`).join(',')}}`;

type PayloadMaker = (rng: Rng, ctx: GeneratorContext) => string;

/**
 * Every command a client can send to the sample app with a payload it was written for. `invoke`
 * targets live fuzz users with short timeouts, and their fuzz connections always answer, so a
 * reply that never comes is a server bug, not a deadline.
 */
function commandTable(prefix: string): Array<[string, PayloadMaker]> {
  const p = `${prefix}/`;
  const name = (rng: Rng, pool: readonly string[]) => q(rng.chance(0.8) ? rng.pick(pool) : `${rng.pick(pool)}:${rng.int(4)}`);
  return [
    [`${p}noop`, () => '{}'],
    [`${p}subscribe-channel`, (rng) => obj({ channel: name(rng, CHANNELS), historyLimit: String(rng.int(60)) })],
    [`${p}unsubscribe-channel`, (rng) => obj({ channel: name(rng, CHANNELS) })],
    [`${p}get-channel-history`, (rng) => obj({ channel: name(rng, CHANNELS), limit: String(rng.int(60)) })],
    [`${p}join-room`, (rng) => obj({ roomName: name(rng, ROOMS) })],
    [`${p}leave-room`, (rng) => obj({ roomName: name(rng, ROOMS) })],
    [`${p}get-room-metadata`, (rng) => obj({ roomName: name(rng, ROOMS) })],
    [`${p}get-my-connection-metadata`, () => '{}'],
    [`${p}set-my-connection-metadata`, (rng) => obj({ metadata: randomJson(rng, 2), options: obj({ strategy: q(rng.pick(['replace', 'merge', 'deepMerge'])) }) })],
    [`${p}get-connection-metadata`, (rng, ctx) => obj({ connectionId: q(rng.chance(0.5) && ctx.users.length ? rng.pick(ctx.users) : randomString(rng)) })],
    [`${p}subscribe-record`, (rng) => obj({ recordId: name(rng, RECORDS), mode: q(rng.pick(['full', 'patch', 'diff'])) })],
    [`${p}unsubscribe-record`, (rng) => obj({ recordId: name(rng, RECORDS) })],
    [`${p}publish-record-update`, (rng) => obj({ recordId: name(rng, RECORDS), newValue: randomJson(rng, 3), options: obj({ strategy: q(rng.pick(['replace', 'merge', 'deepMerge', 'evil'])) }) })],
    [
      `${p}transaction`,
      (rng) =>
        obj({
          operations: `[${Array.from({ length: 1 + rng.int(4) }, () => obj({ op: q(rng.pick(['write', 'delete', 'drop'])), recordId: name(rng, RECORDS), value: randomJson(rng, 2) })).join(',')}]`,
        }),
    ],
    [`${p}subscribe-collection`, (rng) => obj({ collectionId: name(rng, COLLECTIONS) })],
    [`${p}unsubscribe-collection`, (rng) => obj({ collectionId: name(rng, COLLECTIONS) })],
    [`${p}subscribe-presence`, (rng) => obj({ roomName: name(rng, ROOMS) })],
    [`${p}unsubscribe-presence`, (rng) => obj({ roomName: name(rng, ROOMS) })],
    [`${p}publish-presence-state`, (rng) => obj({ roomName: name(rng, ROOMS), state: randomJson(rng, 2), expireAfter: rng.pick([...EDGE_NUMBERS, '100']), silent: rng.pick(['true', 'false', '1']) })],
    [`${p}clear-presence-state`, (rng) => obj({ roomName: name(rng, ROOMS) })],
    [`${p}get-presence-state`, (rng) => obj({ roomName: name(rng, ROOMS) })],
    ['echo', (rng) => randomJson(rng, 3)],
    ['this-command-throws', () => '{}'],
    ['whoami', () => '{}'],
    ['update-profile', (rng) => obj({ name: q(randomString(rng) || 'n'), email: q(`${randomString(rng, 8)}@example.com`) })],
    ['join-room', (rng) => obj({ roomName: name(rng, ROOMS) })],
    ['leave-room', (rng) => obj({ roomName: name(rng, ROOMS) })],
    ['broadcast', (rng) => obj({ text: q(randomString(rng) || 't') })],
    ['publish', (rng) => obj({ channel: name(rng, CHANNELS), message: q(randomString(rng)) })],
    [
      'invoke',
      (rng, ctx) =>
        obj({ clientId: q(ctx.users.length && rng.chance(0.8) ? rng.pick(ctx.users) : `nobody-${rng.int(100)}`), type: q('notify'), data: randomJson(rng, 2), timeoutMs: String(rng.between(50, 1000)) }),
    ],
    ['clients', () => '{}'],
    ['stats', () => '{}'],
  ];
}

/** Payloads written for no command in particular: wrong types, hostile names and numbers everywhere. */
function hostilePayload(rng: Rng, ctx: GeneratorContext): string {
  return rng.weighted<() => string>([
    [3, () => randomJson(rng, 4)],
    [4, () => obj({ [rng.pick(['channel', 'roomName', 'connectionId', 'clientId', 'recordId', 'collectionId'])]: hostileName(rng, ctx), historyLimit: rng.pick(EDGE_NUMBERS), limit: rng.pick([...EDGE_NUMBERS, '"5"', 'null', '[]']) })],
    [2, () => obj({ metadata: rng.pick(['null', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"x":1}}}', randomJson(rng, 3)]), options: rng.pick(['null', '"merge"', obj({ strategy: q(randomString(rng)) }), obj({ strategy: q('deepMerge') })]) })],
    [2, () => obj({ name: randomJson(rng, 1), email: rng.pick(['"@"', '"a@b"', randomJson(rng, 1)]) })],
    [2, () => obj({ text: rng.pick([q('t'.repeat(4096)), q('t'.repeat(4097)), '""', randomJson(rng, 1)]), message: rng.pick([q('m'.repeat(4096)), q('m'.repeat(4097)), randomJson(rng, 1)]), channel: hostileName(rng, ctx) })],
    [2, () => obj({ clientId: rng.pick([hostileName(rng, ctx), ...ctx.users.map(q)]), type: rng.pick(['"notify"', '"__proto__"', '"constructor"', randomJson(rng, 0)]), data: randomJson(rng, 2), timeoutMs: rng.pick(['-1', '0', '1', '1e308', '"100"', 'null', '5e-324', '1.5']) })],
    [1, () => '{"__proto__":{"roomName":"lobby","channel":"chat:a","isAdmin":true},"constructor":{"prototype":{"premium":true}}}'],
    [1, () => `{"a":1,"a":2,"roomName":"lobby","roomName":${q(`${ctx.keyPrefix}broadcast`)}}`],
  ])();
}

/** Command names the sample does not have, or must not run: built-in pushes, prototype names, limits. */
function hostileCommand(rng: Rng, ctx: GeneratorContext): string {
  const p = `${ctx.prefix}/`;
  return rng.pick([
    q(`${p}invoke`),
    q(`${p}assign-id`),
    q(`${p}error`),
    q(`${p}subscription-message`),
    q(`${p}`),
    q(`${p}${randomString(rng, 10)}`),
    q('ping'),
    q('latency'),
    q('latency:request'),
    q('__proto__'),
    q('constructor'),
    q('toString'),
    q('hasOwnProperty'),
    q('Echo'),
    q('echo '),
    q(' echo'),
    q('echo\u0000'),
    q('c'.repeat(ctx.maxNameLength)),
    q('c'.repeat(ctx.maxNameLength + 1)),
    q(randomString(rng)),
    '""',
    'null',
    '7',
    '["echo"]',
    '{"command":"echo"}',
  ]);
}

/** Ids a reply cannot carry or that test the edges of what it may (200 characters, floats, -0, 1e309). */
function hostileId(rng: Rng): string {
  return rng.pick([
    '{}',
    '[]',
    '[1]',
    'null',
    'true',
    '""',
    q('x'.repeat(200)),
    q('x'.repeat(201)),
    q('x'.repeat(300)),
    q('😀'.repeat(100)),
    q('😀'.repeat(101)),
    q('\ud800'),
    q('a"b\\c'),
    '1.5',
    '-7',
    '-0',
    '0',
    '1e308',
    '1e309',
    '-1e309',
    '5e-324',
    '123456789012345678901234567890',
    q(String(rng.int(1000))),
    String(rng.int(1000)),
  ]);
}

/** Bytes that are not UTF-8: a lone continuation byte, an overlong slash, a truncated sequence, a surrogate. */
const BAD_UTF8 = [[0xff], [0x80], [0xc0, 0xaf], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc3, 0x28]];

function isUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/**
 * The fuzz frame generator: a deterministic sequence of frames from one seeded stream. Every frame
 * goes through the oracle (`oracle.ts`) to decide what the server owes it, so the generator
 * never needs to know.
 */
export class FrameGenerator {
  private readonly commands: Array<[string, PayloadMaker]>;
  private nextId = 1;
  /** Recent ids and valid frames, for duplicate ids and mutations. */
  private readonly recentIds: string[] = [];
  private readonly recentValid: string[] = [];
  private readonly kinds: ReadonlyArray<readonly [number, () => FuzzFrame]>;

  constructor(
    private readonly rng: Rng,
    private readonly ctx: GeneratorContext,
  ) {
    this.commands = commandTable(ctx.prefix);
    const r = rng;
    const text = (kind: string, data: string, heavy = false): FuzzFrame => ({ data, binary: false, kind, heavy });
    this.kinds = [
      [30, () => text('valid', this.valid())],
      [18, () => text('hostile-payload', this.frame(this.id(), q(r.pick(this.commands)[0]), hostilePayload(r, ctx)))],
      [5, () => text('hostile-command', this.frame(this.id(), hostileCommand(r, ctx), randomJson(r, 2)))],
      [7, () => text('hostile-id', this.frame(hostileId(r), q(r.pick(this.commands)[0]), '{}'))],
      [3, () => text('missing-id', `{"command":${q(r.pick(this.commands)[0])},"payload":${randomJson(r, 2)}}`)],
      [3, () => text('duplicate-id', this.frame(this.recentIds.length ? r.pick(this.recentIds) : this.id(), q('echo'), randomJson(r, 1)))],
      [3, () => text('id-last', `{"command":${q(r.pick(this.commands)[0])},"payload":${randomJson(r, 2)},"id":${this.id()}}`)],
      [5, () => text('no-reply', this.noReply())],
      [3, () => this.binaryFrame()],
      [3, () => text('truncated', this.truncated())],
      [3, () => text('garbled', this.garbled())],
      [3, () => text('deep', this.deep())],
      [10, () => this.mutated()],
      [0.4, () => this.huge()],
    ];
  }

  next(): FuzzFrame {
    return this.rng.weighted(this.kinds)();
  }

  /** A fresh numeric id, as the reference clients send. */
  private id(): string {
    const id = String(this.nextId++);
    this.recentIds.push(id);
    if (this.recentIds.length > 16) this.recentIds.shift();
    return id;
  }

  /** A frame with its keys in a random order (the reference clients put `id` first). */
  private frame(id: string | undefined, command: string, payload: string | undefined): string {
    const parts = [id === undefined ? '' : `"id":${id}`, `"command":${command}`, payload === undefined ? '' : `"payload":${payload}`].filter(Boolean);
    if (this.rng.chance(0.3)) parts.sort(() => this.rng.float() - 0.5);
    const sep = this.rng.chance(0.1) ? ' ,\n\t' : ',';
    return `{${parts.join(sep)}}`;
  }

  private valid(): string {
    const [command, payload] = this.rng.pick(this.commands);
    const text = this.frame(this.id(), q(command), payload(this.rng, this.ctx));
    this.recentValid.push(text);
    if (this.recentValid.length > 16) this.recentValid.shift();
    return text;
  }

  /** Frames the server takes without replying: heartbeats and answers to invokes it never sent (or sent to someone else). */
  private noReply(): string {
    const r = this.rng;
    const command = r.pick(['pong', 'latency:response', `${this.ctx.prefix}/invoke-result`]);
    const guessed = q(this.ctx.guessInvokeIds ? `inv-${r.int(50).toString(36)}` : `no-inv-${r.int(50)}`);
    const id = r.pick([this.id(), guessed, q(randomString(r, 10))]);
    return this.frame(id, q(command), r.pick(['{}', randomJson(r, 2), '{"result":1}', '{"error":"x","code":"E","name":"N"}']));
  }

  private binaryFrame(): FuzzFrame {
    const r = this.rng;
    const data = r.weighted<() => Buffer>([
      [3, () => Buffer.from(this.valid())],
      [1, () => Buffer.from(Array.from({ length: r.int(64) }, () => r.int(256)))],
      [1, () => Buffer.concat([Buffer.from(`{"id":${this.id()},"command":"echo","payload":"`), Buffer.from(r.pick(BAD_UTF8)), Buffer.from('"}')])],
      [1, () => Buffer.alloc(0)],
    ])();
    return { data, binary: true, kind: 'binary' };
  }

  private truncated(): string {
    const full = this.valid();
    return full.slice(0, this.rng.int(full.length));
  }

  private garbled(): string {
    const r = this.rng;
    return r.pick<() => string>([
      () => '',
      () => ' ',
      () => 'null',
      () => '[]',
      () => `[{"id":${this.id()},"command":"echo"}]`,
      () => '"echo"',
      () => '42',
      () => 'true',
      () => '{',
      () => '}{',
      () => '{"id":1,"command":"echo"}{"id":2,"command":"echo"}',
      () => `{"id":${this.id()},"command":"echo","payload":undefined}`,
      () => `{"id":${this.id()},"command":"echo","payload":NaN}`,
      () => `{'id':1,'command':'echo'}`,
      () => `{"id":${this.id()},"command":"echo",}`,
      () => `\ufeff{"id":${this.id()},"command":"echo"}`,
      () => Array.from({ length: r.int(80) }, () => r.pick(Array.from('{}[]":,\\0123456789.eE+-tfnul abc'))).join(''),
    ])();
  }

  /** Nesting around the 64-level limit (63 payload levels pass), far past it, and outside the payload. */
  private deep(): string {
    const r = this.rng;
    const depth = r.pick([62, 63, 64, 65, 100, 1000, 20_000]);
    const asObject = r.chance(0.5);
    const command = q(r.pick(['echo', `${this.ctx.prefix}/noop`, `${this.ctx.prefix}/set-my-connection-metadata`, 'update-profile', 'pong', `${this.ctx.prefix}/invoke-result`]));
    if (r.chance(0.15)) return `{"id":${this.id()},"command":${command},"extra":${nested(depth, asObject)}}`;
    if (r.chance(0.1)) return `{"id":${nested(depth, asObject)},"command":${command}}`;
    return this.frame(this.id(), command, nested(depth, asObject));
  }

  /** 1 to 4 byte flips, inserts and deletes in a valid frame; sent as binary if they broke its UTF-8 (a text frame would be failed with 1007). */
  private mutated(): FuzzFrame {
    const r = this.rng;
    let bytes = Buffer.from(r.chance(0.5) && this.recentValid.length ? r.pick(this.recentValid) : this.valid());
    const structural = Buffer.from('{}[]":,\\ 0-e.');
    for (let n = r.between(1, 4); n > 0; n--) {
      const at = r.int(bytes.length + 1);
      const byte = r.chance(0.6) ? structural[r.int(structural.length)] : r.int(256);
      const op = r.int(3);
      if (op === 0 && at < bytes.length) bytes[at] ^= 1 << r.int(8);
      else if (op === 1) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([byte]), bytes.subarray(at)]);
      else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    }
    const text = isUtf8(bytes);
    return { data: text ? bytes.toString('utf8') : bytes, binary: !text, kind: text ? 'mutated' : 'mutated-binary' };
  }

  /**
   * Frames at the size limit: exactly `maxPayload` bytes, one byte over, well over (binary too),
   * with the id first, after the command or last (where the server reads the id of a frame it
   * will not parse) and of every readable type.
   */
  private huge(): FuzzFrame {
    const r = this.rng;
    const limit = this.ctx.maxPayload;
    const id = r.chance(0.7) ? this.id() : r.pick(['-7', '-0', '1.5', '""', q('x'.repeat(200)), q('a"b\\c'), q('😀')]);
    const sized = (before: string, after: string, bytes: number) => before + 'a'.repeat(Math.max(0, bytes - Buffer.byteLength(before + after))) + after;
    const variants: Array<() => string | Buffer> = [
      () => sized(`{"id":${id},"command":"echo","payload":"`, '"}', limit),
      () => sized(`{"id":${id},"command":"echo","payload":"`, '"}', limit + 1),
      () => sized(`{"command":"echo","id":${id},"payload":"`, '"}', Math.floor(limit * 1.5)),
      () => sized('{"command":"echo","payload":"', `","id":${id}}`, Math.floor(limit * 2.5)),
      () => Buffer.from(sized(`{"id":${id},"command":"echo","payload":"`, '"}', Math.floor(limit * 1.2))),
      () => sized(`{"id":${id},"command":"publish","payload":{"channel":"chat:a","message":"`, '"}}', limit - r.int(64)),
      () => sized(`{"id":${id},"command":"${this.ctx.prefix}/set-my-connection-metadata","payload":{"metadata":"`, '"}}', limit),
      () => sized(`{"id":${id},"command":"${this.ctx.prefix}/join-room","payload":{"roomName":"lobby:`, '"}}', Math.floor(limit / 2)),
      () => `{"id":${id},"command":"echo","payload":[${'1,'.repeat(Math.floor(limit / 6))}1]}`,
      // Bugs this suite found, kept as regressions. Over the limit, the id was read from the first
      // bytes with a pattern that stopped at an exponent (`2e3` answered as 2), could not see an id
      // in the middle, and counted escapes raw.
      () => sized(`{"id":${r.between(1, 9)}e${r.between(1, 3)},"command":"echo","payload":"`, '"}', limit + 1),
      () => sized(`{"command":"echo","payload":"`, `","id":${this.id()},"x":1}`, limit + 1),
      () => sized(`{"id":"${'\\u0041'.repeat(200)}","command":"echo","payload":"`, '"}', limit + 1),
      // The sample kept a profile name of any size and listed it to every lobby joiner, so join-room
      // was answered ETOOLARGE while the joiner was in the room all the same; now it refuses the name.
      () => sized(`{"id":${this.id()},"command":"update-profile","payload":{"email":"a@b","name":"`, '"}}', limit - r.int(64)),
    ];
    const data = r.pick(variants)();
    return { data, binary: typeof data !== 'string', kind: 'huge', heavy: true };
  }
}
