import { FrameGenerator } from './frames';
import { auditLeftovers } from './audit';
import { keepEchoing } from './bystander';
import { churn } from './churn';
import { FuzzConnection, HeavyGate } from './fuzz-connection';
import { checkInvokeReply } from './invoke-answers';
import type { Limits } from './oracle';
import { Rng } from './prng';
import { flood, invalidUtf8, oversize, type ProbeResult } from './probes';
import { residentMemory } from './rss';
import { ROOMS } from './values';

/** The sample app's limits (library defaults): the oracle judges frames against them. */
export const SAMPLE_LIMITS: Limits = { prefix: 'mesh', maxPayload: 1024 * 1024, maxDepth: 64, maxNameLength: 256, rateLimit: 10_000 };

/**
 * How far a server's RSS may stay above its baseline once the fuzz connections have closed, when
 * the baseline is taken after a warm-up run. The first heavy load grows RSS once by 40–60 MiB
 * (V8's young generation grows to its full semi-spaces, JIT code, allocator arenas kept after
 * 1–2.5 MiB frames), while the heap after a forced full GC stays within 3 MiB of where it
 * started, run after run. After a warm-up, 70 runs of 7,000–8,000 frames kept −20 to +26 MiB
 * (what stays follows the run's peak, not its length). 48 MiB leaves room for that tail; a leak
 * of 7 KiB per frame passes it in such a run, a smaller one in the 100,000 frames of bench/fuzz.js.
 */
export const RSS_TOLERANCE = 48 * 2 ** 20;

export interface CampaignOptions {
  /** The endpoint for anonymous connections. */
  url: string;
  /** The endpoint for a signed-in user (a token from the sample's `POST /login`). */
  urlFor(userId: string): Promise<string>;
  /** The server's internal key prefix (names under it are fuzzed). */
  keyPrefix: string;
  seed: number;
  /** Frames to send, over all fuzz connections. */
  frames: number;
  /** Stop sending after this long even if frames are left. */
  durationMs: number;
  connections: number;
  ratePerConnection: number;
  /** Replies owed at once per connection. */
  window: number;
  replyTimeoutMs: number;
  /** The server process (for RSS) and whether it still runs. */
  pid: number;
  isAlive(): boolean;
  /** Flood (1008), oversize (1009) and invalid UTF-8 (1007) connections alongside the fuzzing. */
  probes: boolean;
  /** Connections that send a burst and drop their TCP connection, alongside the fuzzing. */
  churn: number;
  limits?: Limits;
}

export interface CampaignReport {
  seed: number;
  /** Frames the fuzz connections sent (the probes' and churn connections' not counted). */
  framesSent: number;
  seconds: number;
  /** Replies by error code (`ok`: a result), over all fuzz connections. */
  replies: Record<string, number>;
  errorPushes: { owed: number; received: number };
  unanswered: number;
  duplicates: number;
  bystander: { echoes: number; worstMs: number; announcements: number };
  probes: ProbeResult[];
  /** Server RSS in bytes: before the fuzz connections opened, its peak, and after they closed. */
  rss: { baseline: number; peak: number; after: number };
  /** Every broken rule, each naming the frame where there is one. Empty when the server held. */
  problems: string[];
}

/** Polls `check` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * One fuzz run against a server: signed-in and anonymous fuzz connections send seeded frames,
 * while a bystander on the same node checks its `echo` replies and probe and churn connections
 * break the hard rules and vanish mid-request. Then everything owed is awaited, the connections
 * close, the server's memory is read again and what it should have forgotten is audited.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const limits = options.limits ?? SAMPLE_LIMITS;
  const root = new Rng(options.seed);
  const problems: string[] = [];
  const heavy = new HeavyGate();
  const connectionOptions = (label: string, allowed: string[]) => ({
    label,
    limits,
    allowedPushes: new Set(allowed),
    replyTimeoutMs: options.replyTimeoutMs,
    heavy,
    // The sample's own rule a reply is held to: an `invoke` result is its target's answer.
    checkReply: (command: string, request: string, payload: unknown) => (command === 'invoke' ? checkInvokeReply(request, payload) : undefined),
  });

  // The bystander joins nothing: only heartbeats and announcements (from `broadcast`) may reach it.
  const bystander = await FuzzConnection.open(options.url, connectionOptions('bystander', ['announcement']));
  const baseline = residentMemory(options.pid).rss;

  // What a fuzz connection may be sent: the sample's events, and the pushes of what it subscribed to (channels, presence, records, collections).
  const fuzzPushes = ['announcement', 'user-joined', 'user-left', ...['subscription-message', 'presence-update', 'record-update', 'record-deleted', 'collection-diff'].map((push) => `${limits.prefix}/${push}`)];
  const fuzzers: FuzzConnection[] = [];
  const users: string[] = [];
  for (let i = 0; i < options.connections; i++) {
    // Half sign in (the first as the sample's premium user) and are the invoke targets; half stay anonymous.
    const user = i % 2 === 0 ? (i === 0 ? 'alice' : `fuzz-${options.seed.toString(36)}-${i}`) : undefined;
    const url = user ? await options.urlFor(user) : options.url;
    const connection = await FuzzConnection.open(url, connectionOptions(`fuzz${i}${user ? `(${user})` : ''}`, fuzzPushes));
    fuzzers.push(connection);
    if (user) users.push(user);
  }

  const started = Date.now();
  const until = started + options.durationMs;
  const echoes = keepEchoing(bystander, root.fork(999));

  const perConnection = Math.ceil(options.frames / options.connections);
  const ctx = { ...limits, keyPrefix: options.keyPrefix, users };
  // Who is never invoked may guess the server's invoke ids (see `guessInvokeIds`): anonymous fuzzers, churn.
  const runs = fuzzers.map((connection, i) =>
    connection.run(new FrameGenerator(root.fork(i + 1), { ...ctx, guessInvokeIds: i % 2 === 1 }), perConnection, { ratePerSecond: options.ratePerConnection, window: options.window, until }),
  );
  const open = (label: string) => FuzzConnection.open(options.url, connectionOptions(label, ['announcement']));
  const probes = options.probes
    ? Promise.all([flood(open, limits, 3 * limits.rateLimit), oversize(open, limits), invalidUtf8(open, [0xc3, 0x28]), invalidUtf8(open, [0xed, 0xa0, 0x80])])
    : Promise.resolve([]);
  const openChurn = async (i: number, waitForId: boolean) => {
    const user = i % 4 < 2 ? `churn-${options.seed.toString(36)}-${i}` : undefined;
    return FuzzConnection.open(user ? await options.urlFor(user) : options.url, connectionOptions(`churn${i}`, fuzzPushes), waitForId);
  };
  const churned = churn(openChurn, (i) => new FrameGenerator(root.fork(2000 + i), { ...ctx, guessInvokeIds: true }), limits, options.churn, 40);
  const [probeResults, churnProblems] = await Promise.all([probes, churned, ...runs]);
  problems.push(...churnProblems);
  const seconds = (Date.now() - started) / 1000;
  await Promise.all(fuzzers.map((connection) => connection.settle()));
  const echoed = await echoes.stop();
  problems.push(...echoed.problems);

  // Every confirmed `broadcast` is one announcement to the bystander (in Redis mode it may trail the reply).
  const broadcasts = fuzzers.reduce((n, c) => n + c.broadcastsSent, 0);
  const announcements = () => bystander.pushes.get('announcement') ?? 0;
  await eventually(() => announcements() >= broadcasts, 3000);
  if (announcements() !== broadcasts) problems.push(`bystander: ${announcements()} announcements for ${broadcasts} confirmed broadcasts`);

  await Promise.all(fuzzers.map((connection) => connection.close()));
  // The node has let go of the fuzz connections once it counts only the bystander.
  const released = await eventually(async () => {
    const reply = await bystander.request('stats').catch(() => undefined);
    return (reply?.payload as { localConnections?: number } | undefined)?.localConnections === 1;
  }, 5000);
  if (!released) problems.push('the node still counted fuzz connections 5 s after they closed');
  const memory = residentMemory(options.pid);

  const auditor = await FuzzConnection.open(options.url, connectionOptions('auditor', []));
  const rooms = ROOMS.flatMap((room) => [room, ...[0, 1, 2, 3].map((n) => `${room}:${n}`)]);
  problems.push(...(await auditLeftovers(auditor, limits.prefix, rooms, [bystander.connectionId!], 5000)));
  await auditor.settle();
  await auditor.close();
  await bystander.settle();
  await bystander.close();

  if (!options.isAlive()) problems.push('the server process exited');
  for (const connection of [bystander, auditor, ...fuzzers]) problems.push(...connection.problems);
  for (const probe of probeResults) problems.push(...probe.problems);

  const replies: Record<string, number> = {};
  for (const connection of fuzzers) for (const [code, n] of connection.replyCodes) replies[code] = (replies[code] ?? 0) + n;
  const sum = (f: (c: FuzzConnection) => number) => fuzzers.reduce((n, c) => n + f(c), 0);
  return {
    seed: options.seed,
    framesSent: sum((c) => c.sent),
    seconds,
    replies,
    errorPushes: { owed: sum((c) => c.expectedErrorPushes), received: sum((c) => c.errorPushes) },
    unanswered: sum((c) => c.unanswered),
    duplicates: sum((c) => c.duplicates),
    bystander: { echoes: echoed.echoes, worstMs: echoed.worstMs, announcements: announcements() },
    probes: probeResults,
    // VmHWM is kept lazily by the kernel and can trail a VmRSS read earlier.
    rss: { baseline, peak: Math.max(memory.peak, baseline, memory.rss), after: memory.rss },
    problems,
  };
}
