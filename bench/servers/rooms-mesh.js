'use strict';
// nestjs-mesh node for bench/sharded.js: the compiled library (dist/) with rooms named by the
// client (`join {room}`, `leave {room}`) and a server-side publisher (`drive`).
// Redis: REDIS_URL, or REDIS_CLUSTER (JSON list of {host, port}) passed as `redis: { cluster }`.
require('reflect-metadata');
const { Module, Logger } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { MeshModule, MeshServer } = require('../../dist/lib');
const { driveRooms } = require('./room-drive');

function redisOption() {
  if (!process.env.REDIS_CLUSTER) return process.env.REDIS_URL;
  return { cluster: JSON.parse(process.env.REDIS_CLUSTER) };
}

async function main() {
  Logger.overrideLogger(['error']);
  class RoomsBenchModule {}
  Module({ imports: [MeshModule.forRoot({ redis: redisOption(), keyPrefix: process.env.KEY_PREFIX })] })(RoomsBenchModule);
  const app = await NestFactory.create(RoomsBenchModule, { logger: ['error'] });
  const mesh = app.get(MeshServer);
  mesh.registerCommand('join', (ctx) => mesh.addToRoom(ctx.payload.room, ctx.connection));
  mesh.registerCommand('leave', (ctx) => mesh.removeFromRoom(ctx.payload.room, ctx.connection));
  mesh.registerCommand('drive', (ctx) => driveRooms((room, payload) => mesh.broadcastRoom(room, 'tick', payload), ctx.payload));
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
