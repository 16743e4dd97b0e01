'use strict';
// A private Redis Cluster of 3 masters (no replicas, no persistence) on free loopback ports, in
// a temporary folder, for bench/sharded.js --cluster.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');
const { Redis } = require('ioredis');
const { freePort, waitForPort, sleep } = require('../common');

const MASTERS = 3;
const READY_TIMEOUT_MS = 20_000;

function run(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => (error ? reject(new Error(`${command} failed: ${error.message}\n${stdout}${stderr}`)) : resolve(stdout)));
  });
}

/** Starts the cluster; `stop()` kills its servers and removes the folder. */
async function startRedisCluster() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-'));
  const ports = [];
  for (let i = 0; i < MASTERS; i++) ports.push(await freePort());
  const children = ports.map((port) =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no'],
      { cwd: dir, stdio: 'ignore' },
    ),
  );
  const stop = () => {
    for (const child of children) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((port) => waitForPort(port)));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], 30_000);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const port of ports) {
      const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      try {
        while (!/cluster_state:ok/.test(await redis.cluster('INFO'))) {
          if (Date.now() > deadline) throw new Error(`cluster not ok on port ${port} within ${READY_TIMEOUT_MS} ms`);
          await sleep(100);
        }
      } finally {
        redis.disconnect();
      }
    }
  } catch (error) {
    stop();
    throw error;
  }
  return { servers: ports.map((port) => ({ host: '127.0.0.1', port })), pids: children.map((c) => c.pid), stop };
}

module.exports = { startRedisCluster };
