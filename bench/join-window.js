'use strict';
// `node bench/join-window.js [--cluster]`: how long a join takes, which is the window in which a
// broadcast published concurrently may or may not reach the joining member (one published after
// the join resolved always does). Two nodes in this process on a private Redis (or a 3-master
// cluster), one connection on each; each join is the first local member of a fresh room, so it
// includes the node subscribing to the room's channel. Local: node A joins its own connection;
// remote: node A joins node B's connection (B confirms it listens). Prints p50/p99/max in ms.
require('reflect-metadata');
const { Module, Logger } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { WebSocket } = require('ws');
const { MeshModule, MeshServer } = require('../dist/lib');
const { startRedis, stop, summarize } = require('./common');
const { startRedisCluster } = require('./rooms/redis-cluster');

const JOINS = 1000;

async function node(redis) {
  class JoinWindowModule {}
  Module({ imports: [MeshModule.forRoot({ redis, keyPrefix: 'window:', port: 0, host: '127.0.0.1' })] })(JoinWindowModule);
  const app = await NestFactory.createApplicationContext(JoinWindowModule, { logger: ['error'] });
  await app.init();
  return { app, mesh: app.get(MeshServer) };
}

async function connectionOn(mesh) {
  const { port } = mesh.address();
  const socket = new WebSocket(`ws://127.0.0.1:${port}/mesh`);
  const id = await new Promise((resolve, reject) => {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.command === 'mesh/assign-id') resolve(frame.payload);
    });
    socket.once('error', reject);
  });
  return { socket, id };
}

async function measure(mesh, connectionId, label) {
  const times = [];
  for (let i = 0; i < JOINS; i++) {
    const t = process.hrtime.bigint();
    await mesh.addToRoom(`${label}-${i}`, connectionId);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    await mesh.removeFromRoom(`${label}-${i}`, connectionId); // stays under maxRoomsPerConnection
  }
  const { p50, p99, max } = summarize(times);
  return { joins: JOINS, p50: p50.toFixed(2), p99: p99.toFixed(2), max: max.toFixed(2) };
}

async function main() {
  Logger.overrideLogger(['error']);
  const onCluster = process.argv.includes('--cluster');
  const server = onCluster ? await startRedisCluster() : await startRedis();
  const redis = onCluster ? { cluster: server.servers } : server.url;
  const a = await node(redis);
  const b = await node(redis);
  const onA = await connectionOn(a.mesh);
  const onB = await connectionOn(b.mesh);
  try {
    const result = { topology: onCluster ? 'cluster (3 masters)' : 'standalone', local: await measure(a.mesh, onA.id, 'local'), remote: await measure(a.mesh, onB.id, 'remote') };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    onA.socket.close();
    onB.socket.close();
    await a.app.close();
    await b.app.close();
    if (onCluster) server.stop();
    else await stop(server.child);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
