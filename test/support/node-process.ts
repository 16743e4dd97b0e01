import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient } from './raw-client';
import { freePort } from './redis-server';
import { clusterNodesText, onCluster, redisUrl, sleep } from './test-app';

/** The sample app's Redis settings on the suite's topology. */
function redisEnv(): Record<string, string> {
  return onCluster() ? { REDIS_URL: '', REDIS_CLUSTER_NODES: clusterNodesText() } : { REDIS_URL: redisUrl(), REDIS_CLUSTER_NODES: '' };
}

const MAIN = join(__dirname, '..', '..', 'dist', 'sample-app', 'main.js');

export interface NodeProcessOptions {
  keyPrefix: string;
  port?: number;
  env?: Record<string, string>;
}

/**
 * The sample app as a separate OS process (from `dist/`, built by `npm test`'s pretest), so a
 * test can SIGKILL, SIGSTOP and SIGCONT a real node.
 */
export class NodeProcess {
  private output = '';

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.on('data', (d) => (this.output += d));
    child.stderr?.on('data', (d) => (this.output += d));
  }

  static async start(options: NodeProcessOptions): Promise<NodeProcess> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" (npm test does it first)`);
    const port = options.port ?? (await freePort());
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, PORT: String(port), ...redisEnv(), MESH_KEY_PREFIX: options.keyPrefix, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new NodeProcess(child, port);
    await node.waitUntilServing();
    return node;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/mesh`;
  }

  /** Signs in at the sample app's demo login and returns the session token. */
  async login(userId: string): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.port}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
    if (!response.ok) throw new Error(`login as ${userId} failed: HTTP ${response.status}`);
    return ((await response.json()) as { token: string }).token;
  }

  /** The endpoint URL for a signed-in user (its client id is the user id). */
  async urlAs(userId: string): Promise<string> {
    return `${this.url}?token=${encodeURIComponent(await this.login(userId))}`;
  }

  get logs(): string {
    return this.output;
  }

  private async waitUntilServing(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`Node process exited with ${this.child.exitCode}: ${this.output}`);
      try {
        const probe = await RawClient.connect(this.url);
        await probe.close();
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`Node process did not serve within ${timeoutMs} ms: ${this.output}`);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Sends a signal and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    await exited;
  }
}
