import { Logger, type DynamicModule, type INestApplication, type ModuleMetadata, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { MeshModule, MeshServer, type MeshModuleOptions } from '../../lib';

Logger.overrideLogger(process.env.MESH_TEST_LOGS ? ['log', 'error', 'warn', 'debug'] : false);

/** The Redis every test suite shares (a private redis-server from global setup, or REDIS_URL). */
export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run the tests through jest (global setup starts redis-server)');
  return url;
}

/** A key prefix no other suite or test uses, so suites never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}:`;
}

export interface TestApp {
  app: INestApplication;
  mesh: MeshServer;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface TestAppOptions extends Pick<ModuleMetadata, 'controllers' | 'providers' | 'imports'> {
  /** Options for MeshModule.forRoot; `redis` and `keyPrefix` are filled in unless `memory` is set. */
  mesh?: MeshModuleOptions;
  /** Use the in-process store (no Redis). */
  memory?: boolean;
  /** A custom MeshModule import (e.g. forRootAsync) instead of forRoot(mesh). */
  meshModule?: DynamicModule;
  /** Listen on this port instead of a free one (to restart a node in place). */
  port?: number;
  /** Runs on the app before init (global pipes, adapters...). */
  configure?: (app: INestApplication) => void;
}

/** A real Nest app with MeshModule listening on a free port on loopback. */
export async function startApp(options: TestAppOptions = {}): Promise<TestApp> {
  const meshOptions: MeshModuleOptions = options.memory ? { ...options.mesh } : { redis: redisUrl(), ...options.mesh };
  const meshModule = options.meshModule ?? MeshModule.forRoot(meshOptions);
  const moduleRef = await Test.createTestingModule({
    imports: [meshModule, ...(options.imports ?? [])],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  options.configure?.(app);
  try {
    await app.listen(options.port ?? 0, '127.0.0.1');
  } catch (error) {
    // A failed start-up does not run shutdown hooks by itself: release what did start.
    await app.close().catch(() => undefined);
    throw error;
  }
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const path = meshOptions.path ?? '/mesh';
  return {
    app,
    mesh: app.get(MeshServer),
    port,
    url: `ws://127.0.0.1:${port}${path}`,
    close: () => app.close(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a truthy value or the time runs out. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export type { Type };
