'use strict';
// `npm run start:cluster`: a private redis-server (unless REDIS_URL is set) and two sample-app
// nodes on ports 3000 and 3001 (PORT and PORT + 1), sharing state through it. Ctrl-C stops all.
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { startRedis, waitForPort } = require('../bench/common');

const FIRST_PORT = Number(process.env.PORT ?? 3000);
const MAIN = join(__dirname, '..', 'dist', 'sample-app', 'main.js');

const children = [];
let stopping = false;

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }, 8000);
  timer.unref();
  Promise.all(children.map((child) => (child.exitCode !== null ? undefined : new Promise((r) => child.once('exit', r))))).then(() => process.exit(code));
}

async function main() {
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const redis = await startRedis().catch((error) => {
      throw new Error(`Could not start redis-server (${error.message}): install it (Debian: apt-get install redis-server) or set REDIS_URL`);
    });
    children.push(redis.child);
    redisUrl = redis.url;
    console.log(`Private Redis at ${redisUrl} (removed on exit)`);
  }
  const ports = [FIRST_PORT, FIRST_PORT + 1];
  for (const port of ports) {
    const node = spawn(process.execPath, [MAIN], { env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl }, stdio: ['ignore', 'inherit', 'inherit'] });
    node.once('exit', (code) => !stopping && (console.error(`The node on port ${port} exited (${code}); stopping the cluster`), stopAll(1)));
    children.push(node);
  }
  await Promise.all(ports.map((port) => waitForPort(port)));
  console.log(`\nTwo nodes, one cluster:\n  http://localhost:${ports[0]}/   (ws://localhost:${ports[0]}/mesh)\n  http://localhost:${ports[1]}/   (ws://localhost:${ports[1]}/mesh)\nOpen each in its own window; Ctrl-C stops everything.\n`);
}

process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
main().catch((error) => {
  console.error(error);
  stopAll(1);
});
