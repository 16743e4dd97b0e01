import { RSS_TOLERANCE, runCampaign, type CampaignReport } from '../../bench/fuzz/campaign';
import { seedFromEnv } from '../../bench/fuzz/prng';
import { NodeProcess } from '../support/node-process';
import { uniquePrefix } from '../support/test-app';

/**
 * `FUZZ_SEED=<n> npx jest test/security/fuzz.test.ts` replays a run; `node bench/fuzz.js` is the
 * long version.
 */
const SEED = seedFromEnv(0x5eed);

/** Passing takes 3–4 s per mode; the limit leaves a failing run room to wait out its deadlines and report. */
const TIMEOUT_MS = 30_000;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe.each([
  ['memory', { REDIS_URL: '' }],
  ['Redis', {}],
])('the sample app under seeded fuzzing over real sockets (%s mode)', (mode, env: Record<string, string>) => {
  const keyPrefix = uniquePrefix();
  let node: NodeProcess;
  let exit: string | undefined;

  beforeAll(async () => {
    node = await NodeProcess.start({ keyPrefix, env });
    node.child.once('exit', (code, signal) => (exit = `exited with ${code ?? signal}`));
  });

  afterAll(() => node?.stop());

  const run = (seed: number, frames: number, durationMs: number): Promise<CampaignReport> =>
    runCampaign({
      url: node.url,
      urlFor: (userId) => node.urlAs(userId),
      keyPrefix,
      seed,
      frames,
      durationMs,
      connections: 6,
      ratePerConnection: 1500,
      window: 64,
      replyTimeoutMs: 4000,
      pid: node.child.pid!,
      isAlive: () => exit === undefined,
      probes: true,
      churn: 6,
    });

  it('answers each readable id once, keeps a bystander served, closes abusers alone, and gives its memory back', async () => {
    // The warm-up puts the one-off growth of a first heavy load into the RSS baseline (see
    // RSS_TOLERANCE); it is a full run too, checked the same way, with its own seed.
    const warmup = await run(SEED, 2500, 1200);
    const report = await run(SEED + 1, 7000, 2500);
    if (process.env.FUZZ_VERBOSE) {
      process.stdout.write(`${mode}: ${report.framesSent} frames in ${report.seconds.toFixed(1)} s, replies ${JSON.stringify(report.replies)}, RSS ${mb(report.rss.baseline)} -> ${mb(report.rss.after)} (peak ${mb(report.rss.peak)})\n`);
    }
    const problems = [...warmup.problems.map((p) => `warm-up run (seed ${SEED}): ${p}`), ...report.problems];
    const { baseline, peak, after } = report.rss;
    if (after - baseline > RSS_TOLERANCE) {
      problems.push(`server RSS ${mb(after)} after the run, baseline ${mb(baseline)} (peak ${mb(peak)}): more than ${mb(RSS_TOLERANCE)} stayed`);
    }
    if (exit) problems.push(`the server ${exit}:\n${node.logs.slice(-3000)}`);
    if (problems.length) {
      throw new Error(`FUZZ_SEED=${SEED} (${mode} mode, main run seed ${SEED + 1}): ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
    }
    // The run did what it says: many frames, most kinds of answer, every probe closed as it should.
    expect(report.framesSent).toBeGreaterThan(1000);
    expect(Object.keys(report.replies)).toEqual(expect.arrayContaining(['ok', 'EBADFRAME', 'ENOTFOUND', 'EFORBIDDEN', 'EINVALID', 'ESERVER', 'ETOOLARGE']));
    expect(report.errorPushes.received).toBe(report.errorPushes.owed);
    expect(report.probes.map((p) => [p.name, p.closeCode])).toEqual([
      ['flood', 1008],
      ['oversize', 1009],
      ['invalid-utf8', 1007],
      ['invalid-utf8', 1007],
    ]);
    // Every echo is checked word for word (a wrong or failed one is a problem above); how many fit
    // in the run depends on the machine's speed, so only that the bystander was served is asserted.
    expect(report.bystander.echoes).toBeGreaterThan(0);
  }, TIMEOUT_MS);
});
