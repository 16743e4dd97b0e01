'use strict';
// nestjs-mesh node for the soak (bench/soak.js): the compiled library (dist/) in a Nest app.
// Run with --expose-gc so `stats` can report the heap after a full collection (what is retained,
// not what happens to be garbage at that moment).
require('reflect-metadata');
const { Module, Logger } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { MeshModule, MeshServer } = require('../../dist/lib');

// The event-loop monitor's timer period; its readings include it, so it is subtracted.
const LOOP_RESOLUTION_MS = 10;

async function main() {
  const port = Number(process.env.PORT);
  // Warnings too: a dropped node message or a room-index resync during the soak is a finding.
  Logger.overrideLogger(['error', 'warn']);
  class SoakModule {}
  // SOAK_SERVER_OPTIONS (JSON): extra MeshModule options, for experiments such as {"latencyInterval": 60000}.
  const extra = process.env.SOAK_SERVER_OPTIONS ? JSON.parse(process.env.SOAK_SERVER_OPTIONS) : {};
  Module({ imports: [MeshModule.forRoot({ redis: process.env.REDIS_URL, keyPrefix: process.env.KEY_PREFIX, ...extra })] })(SoakModule);
  const app = await NestFactory.create(SoakModule, { logger: ['error', 'warn'] });
  const mesh = app.get(MeshServer);
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();

  // Clients join their rooms with the built-in `mesh/join-room` (so MeshClient re-joins them
  // after a reconnect); only the soak's rooms are open to them.
  mesh.exposeRoom(/^soak:/);
  mesh.registerCommand('echo', (ctx) => ctx.payload);
  // The driver's broadcast: the sequence number and send time travel in the event's payload.
  mesh.registerCommand('broadcast', async (ctx) => {
    const { room, seq, ts } = ctx.payload;
    await mesh.broadcastRoom(room, 'tick', { room, seq, ts });
    return true;
  });
  // Memory after a full GC, and the longest event-loop stall since the previous call (which
  // includes that call's own GC).
  mesh.registerCommand('stats', () => {
    global.gc?.();
    const { rss, heapUsed, external } = process.memoryUsage();
    const stats = { connections: mesh.connectionCount, rss, heapUsed, external, loopMaxMs: loopDelay.max / 1e6 - LOOP_RESOLUTION_MS };
    loopDelay.reset();
    return stats;
  });
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
