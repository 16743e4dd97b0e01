'use strict';
// `node bench/fuzz.js [--frames 100000] [--mode memory|redis|both] [--seed N] [--known-bugs]` after `npm run build`:
// the jest fuzz suite's generator and checks for a long run against the sample app (its own
// process), in memory mode and in Redis mode (a private redis-server on a free port). Exits 1 if
// any rule broke; FUZZ_SEED (or --seed) replays a run.
require('./fuzz/load-ts');
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { freePort, waitForPort } = require('./common');
const { runCampaign } = require('./fuzz/campaign.ts');
const { seedFromEnv } = require('./fuzz/prng.ts');

const MAIN = join(__dirname, '..', 'dist', 'sample-app', 'main.js');
const WARMUP_FRAMES = 3000;
/**
 * RSS that may stay after a long run. The jest suite's 48 MiB (see RSS_TOLERANCE in
 * fuzz/campaign.ts) is for a few thousand frames; over 10,000–100,000 frames, 24 runs kept
 * −2 to +38 MiB, with no trend in the length of the run (what stays follows the peak). 64 MiB is
 * what a leak of 700 bytes per frame would add over 100,000 frames.
 */
const RSS_TOLERANCE = 64 * 2 ** 20;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitForPort(port);
  return { child, url: `redis://127.0.0.1:${port}` };
}

/** The sample app in its own process, and how to sign in to it (`POST /login`). */
async function startSample(redisUrl, keyPrefix) {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), REDIS_URL: redisUrl, MESH_KEY_PREFIX: keyPrefix };
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  await waitForPort(port);
  const url = `ws://127.0.0.1:${port}/mesh`;
  const urlFor = async (userId) => {
    const response = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
    if (!response.ok) throw new Error(`login as ${userId}: HTTP ${response.status}`);
    return `${url}?token=${encodeURIComponent((await response.json()).token)}`;
  };
  return { child, url, urlFor, stderr: () => stderr };
}

/** Stops the server gracefully and says how it ended. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return `had exited by itself (${child.exitCode ?? child.signalCode})`;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const status = await exited;
  clearTimeout(timer);
  return `alive to the end; exit status ${status} after SIGTERM`;
}

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function runMode(mode, redisUrl, seed, frames) {
  const keyPrefix = `fuzz${seed.toString(36)}:`;
  const sample = await startSample(mode === 'redis' ? redisUrl : '', keyPrefix);
  const campaign = (runSeed, count) =>
    runCampaign({
      url: sample.url,
      urlFor: sample.urlFor,
      keyPrefix,
      seed: runSeed,
      frames: count,
      durationMs: 60 * 60_000,
      connections: 8,
      ratePerConnection: Number(arg('rate', 1500)),
      window: 64,
      replyTimeoutMs: 15_000,
      pid: sample.child.pid,
      isAlive: () => sample.child.exitCode === null && sample.child.signalCode === null,
      probes: true,
      churn: 20,
    });
  let warmup, report, status;
  try {
    // As in the jest suite: the warm-up's growth goes into the baseline of the long run.
    warmup = await campaign(seed, WARMUP_FRAMES);
    report = await campaign(seed + 1, frames);
  } finally {
    status = await stop(sample.child);
  }
  const problems = [...warmup.problems.map((p) => `warm-up: ${p}`), ...report.problems];
  if (report.rss.after - report.rss.baseline > RSS_TOLERANCE) problems.push(`more than ${mb(RSS_TOLERANCE)} of RSS stayed after the run`);
  const codes = Object.entries(report.replies).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`).join(', ');
  console.log(`\n## ${mode} mode (FUZZ_SEED=${seed}; the long run uses seed ${seed + 1})`);
  console.log(`frames sent: ${report.framesSent} in ${report.seconds.toFixed(1)} s = ${Math.round(report.framesSent / report.seconds)} frames/s (after a ${warmup.framesSent}-frame warm-up)`);
  console.log(`replies by code: ${codes}`);
  console.log(`mesh/error pushes: ${report.errorPushes.received} for ${report.errorPushes.owed} owed`);
  console.log(`unanswered: ${report.unanswered}, duplicate or unasked replies: ${report.duplicates}`);
  console.log(`bystander: ${report.bystander.echoes} echoes, worst ${report.bystander.worstMs} ms, ${report.bystander.announcements} announcements`);
  console.log(`probes: ${report.probes.map((p) => `${p.name} closed ${p.closeCode} (want ${p.expectedCode})`).join(', ')}`);
  console.log(`server RSS: fresh ${mb(warmup.rss.baseline)}, baseline after warm-up ${mb(report.rss.baseline)}, peak ${mb(report.rss.peak)}, after ${mb(report.rss.after)}`);
  console.log(`server: ${status}`);
  if (problems.length) {
    console.log(`PROBLEMS (${problems.length}):`);
    for (const p of problems) console.log(`- ${p}`);
    console.log(`server stderr (tail):\n${sample.stderr()}`);
  }
  return problems.length === 0;
}

async function main() {
  const frames = Number(arg('frames', 100_000));
  const mode = arg('mode', 'both');
  const seed = arg('seed') !== undefined ? Number(arg('seed')) : seedFromEnv(Date.now() >>> 0);
  if (!['memory', 'redis', 'both'].includes(mode)) throw new Error(`--mode must be memory, redis or both, got ${mode}`);
  const modes = mode === 'both' ? ['memory', 'redis'] : [mode];
  const redis = modes.includes('redis') ? await startRedis() : undefined;
  let ok = true;
  try {
    for (const m of modes) ok = (await runMode(m, redis?.url, seed, frames)) && ok;
  } finally {
    redis?.child.kill('SIGKILL');
  }
  console.log(`\n${ok ? 'PASS' : 'FAIL'} (FUZZ_SEED=${seed})`);
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
