'use strict';
// A private Redis Cluster for benchmarks (the test suite has the same in test/support/redis-cluster.ts):
// one `redis-server --cluster-enabled yes` per master on free loopback ports, then
// `redis-cli --cluster create`. Resolves once every node reports cluster_state:ok.
const { spawn, execFile } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { promisify } = require('node:util');
const { freePort, waitForPort, sleep, stop } = require('./common');

async function startCluster(masters = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-cluster-'));
  const ports = [];
  while (ports.length < masters) {
    const port = await freePort();
    if (port <= 55535 && !ports.includes(port)) ports.push(port); // the bus listens on port + 10000
  }
  const children = ports.map((port) =>
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }),
  );
  const close = async () => {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((port) => waitForPort(port)));
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    for (let i = 0; i < 300; i++) {
      const states = await Promise.all(ports.map((p) => promisify(execFile)('redis-cli', ['-p', String(p), 'cluster', 'info']).then((r) => r.stdout, () => '')));
      if (states.every((s) => s.includes('cluster_state:ok'))) break;
      await sleep(100);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), ports, close };
}

module.exports = { startCluster };
