import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { configFromEnv, describeState } from './config';

async function bootstrap(): Promise<void> {
  const config = configFromEnv();
  const app = await NestFactory.create(AppModule.forConfig(config));
  // SIGTERM/SIGINT: drain commands in flight, close sockets with 1001, clean this node out of Redis.
  app.enableShutdownHooks();
  await app.listen(config.port);
  new Logger('Sample').log(`Mesh endpoint ws://localhost:${config.port}/mesh (prefix "${config.prefix}", ${describeState(config)})`);
}

void bootstrap();
