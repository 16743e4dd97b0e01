'use strict';
// `node bench/client-transport.js [--clients 20] [--seconds 3] [--rounds 3]` after `npm run build`:
// the client-side cost of where MeshClient's socket lives in Node. Each client sends sequential
// ~100-byte echo commands to one nestjs-mesh node (in-memory state, its own process); this
// process's CPU time (process.cpuUsage(): every thread, the socket worker's included) is divided
// by the commands answered. Modes: `main thread` (the default client), `worker from the start`
// (`{ syncCommands: true }`), and `moved on first use` (a default client after one commandSync).
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { MeshClient } = require('../dist/client');
const { freePort, waitForPort, ECHO_PAYLOAD } = require('./common');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const CLIENTS = arg('clients', 20);
const SECONDS = arg('seconds', 3);
const ROUNDS = arg('rounds', 3);
const MODES = ['main thread', 'worker from the start', 'moved on first use'];

async function measure(url, mode) {
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const client = new MeshClient(url, { syncCommands: mode === 'worker from the start' });
    await client.connect();
    if (mode === 'moved on first use') client.commandSync('echo', 'move');
    clients.push(client);
  }
  const before = process.cpuUsage();
  const end = Date.now() + SECONDS * 1000;
  let answered = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (Date.now() < end) {
        await client.command('echo', ECHO_PAYLOAD);
        answered++;
      }
    }),
  );
  const cpu = process.cpuUsage(before);
  await Promise.all(clients.map((client) => client.close()));
  return { rate: answered / SECONDS, cpuPerCommand: (cpu.user + cpu.system) / answered };
}

async function main() {
  const port = await freePort();
  const server = spawn(process.execPath, [join(__dirname, 'servers', 'mesh.js')], { env: { ...process.env, PORT: String(port), REDIS_URL: '' }, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await waitForPort(port);
    const url = `ws://127.0.0.1:${port}/mesh`;
    const results = Object.fromEntries(MODES.map((mode) => [mode, []]));
    for (let round = 0; round < ROUNDS; round++) for (const mode of MODES) results[mode].push(await measure(url, mode));
    const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const base = median(results['main thread'].map((r) => r.cpuPerCommand));
    console.log(`${CLIENTS} clients, sequential echo, ${SECONDS} s per cell, median of ${ROUNDS} rounds (Node ${process.version})\n`);
    console.log('| socket | commands/s | client CPU µs/command | × main thread |');
    console.log('|---|---|---|---|');
    for (const mode of MODES) {
      const cpu = median(results[mode].map((r) => r.cpuPerCommand));
      console.log(`| ${mode} | ${Math.round(median(results[mode].map((r) => r.rate)))} | ${cpu.toFixed(1)} | ${(cpu / base).toFixed(2)} |`);
    }
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
