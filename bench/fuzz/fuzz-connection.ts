import { WebSocket, type RawData } from 'ws';
import type { FrameGenerator, FuzzFrame } from './frames';
import { invokeAnswer } from './invoke-answers';
import { expectationOf, type Expectation, type Limits } from './oracle';

/** A frame sent and still owed a reply. */
interface Owed {
  frame: FuzzFrame;
  expectation: Expectation;
  sentAt: number;
  /** When it counts as unanswered. */
  deadline: number;
  /** Position in this connection's sequence (to find it again from the seed). */
  serial: number;
  /** Another frame with the same id was in flight with it: which reply is whose is a guess. */
  shared?: boolean;
  resolve?: (reply: ReceivedFrame) => void;
}

export interface ReceivedFrame {
  id?: unknown;
  command?: unknown;
  payload?: unknown;
}

export interface FuzzConnectionOptions {
  label: string;
  limits: Limits;
  /** Push commands this connection may receive besides replies, heartbeats, invokes and `<p>/error`. */
  allowedPushes: ReadonlySet<string>;
  /** A reply slower than this counts as missing. */
  replyTimeoutMs: number;
  /** Shared by the connections of a run: one heavy frame in flight on the node at a time. */
  heavy: HeavyGate;
  /** Checks what a command's reply says, beyond the protocol (the app's own rules); returns what is wrong. */
  checkReply?: (command: string, request: string, payload: unknown) => string | undefined;
}

/**
 * Lets one heavy frame at a time through for a whole run, so the node's peak memory (and with it
 * what it keeps afterwards) does not depend on how the big frames of several connections line up.
 */
export class HeavyGate {
  inFlight = 0;
  private readonly waiting = new Set<() => void>();

  /** Takes the gate if it is free (checked and taken in one step, so two waiters cannot both pass). */
  tryEnter(): boolean {
    if (this.inFlight > 0) return false;
    this.inFlight++;
    return true;
  }

  leave(count = 1): void {
    this.inFlight -= count;
    if (this.inFlight === 0) for (const wake of this.waiting) wake();
  }

  /** Calls `wake` whenever the gate opens. */
  subscribe(wake: () => void): void {
    this.waiting.add(wake);
  }

  unsubscribe(wake: () => void): void {
    this.waiting.delete(wake);
  }
}

/** Shows a frame in a report: its kind, size and first bytes (hex for binary), enough to replay it. */
export function describeFrame(frame: FuzzFrame, max = 300): string {
  const size = typeof frame.data === 'string' ? Buffer.byteLength(frame.data) : frame.data.length;
  const shown = frame.binary ? `hex ${Buffer.from(frame.data).subarray(0, max).toString('hex')}` : JSON.stringify(String(frame.data).slice(0, max));
  return `${frame.kind} (${frame.binary ? 'binary' : 'text'}, ${size} bytes${size > max ? `, first ${max} shown` : ''}): ${shown}`;
}

const STACK_TRACE = /\n\s+at |\((?:\/|node:)[^)]*:\d+:\d+\)/;

/** A heavy frame's reply comes in milliseconds; waiting longer would stall every heavy frame of the run. */
const HEAVY_REPLY_TIMEOUT_MS = 3000;

/**
 * One raw WebSocket that sends fuzz frames and holds the server to the oracle: every reply owed
 * arrives once, with its id and command, nothing arrives twice or unasked, and the `<p>/error`
 * pushes match the frames that owed one. It answers heartbeats and the server's invokes as a
 * client must, so neither closes the socket nor leaves a request waiting for its deadline.
 */
export class FuzzConnection {
  readonly problems: string[] = [];
  /** Replies by error code (`ok` for a result). */
  readonly replyCodes = new Map<string, number>();
  /** Pushes by command. */
  readonly pushes = new Map<string, number>();
  connectionId?: string;
  sent = 0;
  unanswered = 0;
  duplicates = 0;
  expectedErrorPushes = 0;
  errorPushes = 0;
  /** `broadcast` requests the server confirmed (each is an `announcement` to every connection). */
  broadcastsSent = 0;
  closeCode?: number;
  /** Set before a close the test asked for, so it is not reported. */
  expectClose = false;

  private readonly owed = new Map<string, Owed[]>();
  /** The last frames sent and received, to show with an unexpected close. */
  private readonly recent: FuzzFrame[] = [];
  private readonly received: string[] = [];
  private readonly timedOut = new Set<string>();
  private outstanding = 0;
  private heavyOutstanding = 0;
  private serial = 0;
  private requestCounter = 0;
  private wakers: Array<() => void> = [];
  private readonly wakeUp = () => this.wake();
  private readonly sweeper = setInterval(() => this.expireOverdue(), 100).unref();
  private readonly closed: Promise<number>;
  private readonly errorCommand: string;
  private readonly invokeCommand: string;

  private constructor(
    readonly socket: WebSocket,
    private readonly options: FuzzConnectionOptions,
  ) {
    this.errorCommand = `${options.limits.prefix}/error`;
    this.invokeCommand = `${options.limits.prefix}/invoke`;
    options.heavy.subscribe(this.wakeUp);
    socket.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data as Buffer, isBinary));
    socket.on('error', (error) => {
      if (!this.expectClose) this.problem(`socket error: ${error.message}`);
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        this.closeCode = code;
        if (!this.expectClose) {
          const sent = this.recent.map((f) => `\n    ${describeFrame(f, 120)}`).join('');
          const received = this.received.map((f) => `\n    ${f}`).join('');
          this.problem(`closed unexpectedly with ${code} ${reason.toString()}; ${this.outstanding} replies were owed; the last frames sent:${sent}\n  and received:${received}`);
        }
        clearInterval(this.sweeper);
        this.options.heavy.leave(this.heavyOutstanding);
        this.options.heavy.unsubscribe(this.wakeUp);
        this.owed.clear();
        this.outstanding = this.heavyOutstanding = 0;
        this.wake();
        resolve(code);
      }),
    );
  }

  /** Opens a socket and waits for `<p>/assign-id` (or only for the upgrade, with `waitForId: false`). */
  static async open(url: string, options: FuzzConnectionOptions, waitForId = true): Promise<FuzzConnection> {
    const socket = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    const connection = new FuzzConnection(socket, options);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => {
        reject(new Error(`${options.label}: HTTP ${response.statusCode} at the upgrade`));
        socket.terminate();
      });
      socket.once('close', () => reject(new Error(`${options.label}: closed before it was assigned an id`)));
      if (!waitForId) socket.once('open', () => resolve());
      const assigned = () => {
        if (connection.connectionId === undefined) return;
        socket.off('message', assigned);
        resolve();
      };
      socket.on('message', assigned);
    });
    return connection;
  }

  get label(): string {
    return this.options.label;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Resolves with the close code once the socket is closed. */
  whenClosed(): Promise<number> {
    return this.closed;
  }

  /** Sends a frame and records what it is owed. A heavy frame must hold the gate (`run` takes it). */
  send(frame: FuzzFrame, resolve?: (reply: ReceivedFrame) => void): void {
    if (!this.isOpen) {
      if (frame.heavy) this.options.heavy.leave();
      return;
    }
    const expectation = expectationOf(frame.data, frame.binary, this.options.limits);
    const serial = this.serial++;
    this.expectedErrorPushes += expectation.errorPush;
    if (expectation.replyKey !== undefined) {
      const list = this.owed.get(expectation.replyKey) ?? [];
      const now = Date.now();
      // A heavy frame holds the node-wide gate while it waits: it gets a shorter deadline.
      const timeout = frame.heavy ? Math.min(this.options.replyTimeoutMs, HEAVY_REPLY_TIMEOUT_MS) : this.options.replyTimeoutMs;
      const owed: Owed = { frame, expectation, sentAt: now, deadline: now + timeout, serial, resolve, shared: list.length > 0 };
      for (const other of list) other.shared = true;
      list.push(owed);
      this.owed.set(expectation.replyKey, list);
      this.outstanding++;
      if (frame.heavy) this.heavyOutstanding++;
    } else if (frame.heavy) {
      this.options.heavy.leave();
    }
    this.sent++;
    this.recent.push(frame);
    if (this.recent.length > 8) this.recent.shift();
    this.socket.send(frame.data, { binary: frame.binary });
  }

  /** A well-formed request; resolves with its reply (it is held to the same rules as fuzz frames). */
  request(command: string, payloadJson = '{}'): Promise<ReceivedFrame> {
    const id = `${this.options.label}-req-${++this.requestCounter}`;
    return new Promise((resolve, reject) => {
      if (!this.isOpen) return reject(new Error(`${this.options.label}: socket is closed`));
      this.send({ data: `{"id":${JSON.stringify(id)},"command":${JSON.stringify(command)},"payload":${payloadJson}}`, binary: false, kind: 'request' }, resolve);
      void this.closed.then(() => reject(new Error(`${this.options.label}: closed before "${command}" was answered`)));
    });
  }

  /**
   * Sends `count` generated frames, at most `ratePerSecond` (under the server's limit, so the
   * frames reach the handlers rather than the limiter), `window` replies owed at once, and one
   * heavy frame in flight on the node.
   */
  async run(generator: FrameGenerator, count: number, options: { ratePerSecond: number; window: number; until: number }): Promise<void> {
    const burst = Math.max(1, Math.round(options.ratePerSecond / 50));
    let tokens = burst;
    let refilledAt = Date.now();
    for (let i = 0; i < count && this.isOpen && Date.now() < options.until; i++) {
      const frame = generator.next();
      let holdsGate = false;
      await this.waitUntil(() => this.outstanding < options.window && (!frame.heavy || (holdsGate = this.options.heavy.tryEnter())));
      if (!this.isOpen) {
        if (holdsGate) this.options.heavy.leave();
        break;
      }
      for (;;) {
        const now = Date.now();
        tokens = Math.min(burst, tokens + ((now - refilledAt) * options.ratePerSecond) / 1000);
        refilledAt = now;
        if (tokens >= 1) break;
        // Pacing, not waiting for an event: the next token is this far away.
        await new Promise((resolve) => setTimeout(resolve, Math.ceil(((1 - tokens) * 1000) / options.ratePerSecond)));
      }
      tokens--;
      this.send(frame);
    }
  }

  /**
   * Waits until every reply owed has come (or timed out), ending with a `<p>/noop` marker: the
   * server writes error pushes as it reads frames, so once the marker is answered every push
   * owed is in, and the count can be checked.
   */
  async settle(): Promise<void> {
    if (!this.isOpen) return;
    await this.request(`${this.options.limits.prefix}/noop`).catch(() => undefined);
    await this.waitUntil(() => this.outstanding === 0);
    if (this.isOpen && this.errorPushes !== this.expectedErrorPushes) {
      this.problem(`${this.errorPushes} ${this.errorCommand} pushes for ${this.expectedErrorPushes} frames that owed one`);
    }
  }

  /** Drops the TCP connection with no closing handshake, as a crashed client or a lost network would. */
  async terminate(): Promise<void> {
    this.expectClose = true;
    this.socket.terminate();
    await this.closed;
  }

  async close(): Promise<void> {
    this.expectClose = true;
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }

  /** Waits for `condition`, checked again on every frame received, reply written off, gate opened or close. */
  private async waitUntil(condition: () => boolean): Promise<void> {
    while (!condition() && this.isOpen) await new Promise<void>((resolve) => this.wakers.push(resolve));
  }

  private wake(): void {
    for (const wake of this.wakers.splice(0)) wake();
  }

  /** Writes off the replies past their deadline (run by a timer, whether or not anyone waits). */
  private expireOverdue(): void {
    const now = Date.now();
    let expired = false;
    for (const [key, list] of this.owed) {
      for (const owed of list.filter((o) => o.deadline < now)) {
        this.unanswered++;
        this.timedOut.add(key);
        this.problem(`no reply within ${owed.deadline - owed.sentAt} ms to frame #${owed.serial}, ${describeFrame(owed.frame)}`);
        this.forget(key, owed);
        expired = true;
      }
    }
    if (expired) this.wake();
  }

  private forget(key: string, owed: Owed): void {
    const list = this.owed.get(key)!;
    list.splice(list.indexOf(owed), 1);
    if (list.length === 0) this.owed.delete(key);
    this.outstanding--;
    if (owed.frame.heavy) {
      this.heavyOutstanding--;
      this.options.heavy.leave();
    }
  }

  private problem(message: string): void {
    // Bounded: a broken server could otherwise fill memory with the same complaint.
    if (this.problems.length < 50) this.problems.push(`${this.options.label}: ${message}`);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const text = data.toString();
    this.received.push(`${data.length} bytes: ${text.slice(0, 80)}`);
    if (this.received.length > 8) this.received.shift();
    if (isBinary) this.problem(`binary frame from the server: ${text.slice(0, 200)}`);
    let frame: ReceivedFrame;
    try {
      frame = JSON.parse(text) as ReceivedFrame;
    } catch {
      return this.problem(`frame that is not JSON from the server: ${JSON.stringify(text.slice(0, 200))}`);
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.command !== 'string') return this.problem(`frame with no command from the server: ${text.slice(0, 200)}`);
    if (frame.id === undefined) this.onPush(frame, text);
    else if (frame.command === this.invokeCommand && !this.owed.has(JSON.stringify(frame.id))) this.answerInvoke(frame);
    else this.onReply(frame, text);
    this.wake();
  }

  private onReply(frame: ReceivedFrame, text: string): void {
    const key = JSON.stringify(frame.id);
    const list = this.owed.get(key);
    if (!list) {
      this.duplicates++;
      const why = this.timedOut.has(key) ? 'a late reply (after its deadline)' : 'a reply to no frame awaiting one (a second reply, or unasked)';
      return this.problem(`${why}: ${text.slice(0, 300)}`);
    }
    // Replies echo the request's command, or name `<p>/error` when the frame was refused. Frames
    // sharing an id (the fuzzer reuses ids on purpose) are told apart by that alone.
    const candidates = list.filter((o) => o.expectation.replyCommand === frame.command);
    if (candidates.length === 0) {
      const expected = list.map((o) => JSON.stringify(o.expectation.replyCommand)).join(' or ');
      this.problem(`reply with id ${key} names command ${JSON.stringify(frame.command)}, expected ${expected}, to ${describeFrame(list[0].frame)}: ${text.slice(0, 300)}`);
      // Counted as that frame's (wrong) answer, so it is not reported again as missing.
      return this.forget(key, list[0]);
    }
    const owed = candidates[0];
    this.forget(key, owed);
    const code = this.checkPayload(frame.payload, text);
    const refusal = owed.expectation.refusalCodes;
    if (refusal && !refusal.includes(code)) this.problem(`refused with ${code}, expected ${refusal.join(' or ')}: frame #${owed.serial}, ${describeFrame(owed.frame)}`);
    // The app's own rules hold a reply only when it surely is this frame's.
    const { command } = owed.expectation;
    const wrong = !refusal && !owed.shared && command ? this.options.checkReply?.(command, String(owed.frame.data), frame.payload) : undefined;
    if (wrong) this.problem(`${wrong}: frame #${owed.serial}, ${describeFrame(owed.frame)}`);
    this.replyCodes.set(code, (this.replyCodes.get(code) ?? 0) + 1);
    if (frame.command === 'broadcast' && (frame.payload as { sent?: unknown })?.sent === true) this.broadcastsSent++;
    owed.resolve?.(frame);
  }

  /** The reply's error code (`ok` if it is a result); an error must have the documented shape and no stack trace. */
  private checkPayload(payload: unknown, text: string): string {
    if (typeof payload !== 'object' || payload === null || !('error' in payload) || !('code' in payload)) return 'ok';
    const { error, code, name } = payload as { error: unknown; code: unknown; name: unknown };
    if (typeof error !== 'string' || typeof code !== 'string' || typeof name !== 'string') {
      this.problem(`error payload without string error, code and name: ${text.slice(0, 300)}`);
      return 'malformed';
    }
    if (STACK_TRACE.test(error)) this.problem(`error message with a stack trace: ${text.slice(0, 300)}`);
    return code;
  }

  private onPush(frame: ReceivedFrame, text: string): void {
    const command = frame.command as string;
    this.pushes.set(command, (this.pushes.get(command) ?? 0) + 1);
    if (command === this.errorCommand) {
      this.errorPushes++;
      this.checkPayload(frame.payload, text);
    } else if (command === `${this.options.limits.prefix}/assign-id`) {
      if (this.connectionId !== undefined) this.problem(`a second assign-id: ${text}`);
      this.connectionId = String(frame.payload);
    } else if (command === 'ping') {
      this.socket.send('{"command":"pong","payload":{}}');
    } else if (command === 'latency:request') {
      this.socket.send(`{"command":"latency:response","payload":${JSON.stringify(frame.payload ?? {})}}`);
    } else if (command !== 'latency' && !this.options.allowedPushes.has(command)) {
      this.problem(`an unexplained push: ${text.slice(0, 300)}`);
    }
  }

  private answerInvoke(frame: ReceivedFrame): void {
    this.pushes.set(this.invokeCommand, (this.pushes.get(this.invokeCommand) ?? 0) + 1);
    const data = (frame.payload as { data?: unknown } | undefined)?.data;
    this.socket.send(`{"id":${JSON.stringify(frame.id)},"command":"${this.options.limits.prefix}/invoke-result","payload":${invokeAnswer(data)}}`);
  }
}
