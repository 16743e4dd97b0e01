import { Module, type DynamicModule } from '@nestjs/common';
import { MeshModule, type MeshModuleOptions } from '../lib';
import { AuthenticatedGuard } from './authenticated.guard';
import { ChatController } from './chat.controller';
import { Counters } from './counters';
import { redisOptionOf, type SampleConfig } from './config';
import { DemoController } from './demo.controller';
import { Documents } from './documents';
import { HealthController } from './health.controller';
import { SessionModule } from './session.module';
import { Sessions, type UserMetadata } from './sessions';

/** Channel history is dropped a day after the last message, so names nobody uses do not pile up in Redis. */
const HISTORY_TTL_MS = 24 * 60 * 60 * 1000;

/** The sample app for a configuration (tests start it with their own Redis and key prefix). */
@Module({})
export class AppModule {
  static forConfig(config: SampleConfig): DynamicModule {
    const sessions = SessionModule.forConfig(config);
    return {
      module: AppModule,
      imports: [
        sessions,
        MeshModule.forRootAsync({
          imports: [sessions],
          inject: [Sessions],
          useFactory: (s: Sessions): MeshModuleOptions => ({
            path: '/mesh',
            redis: redisOptionOf(config),
            prefix: config.prefix,
            keyPrefix: config.keyPrefix,
            pingInterval: config.pingInterval,
            latencyInterval: config.latencyInterval,
            nodeHeartbeatInterval: config.nodeHeartbeatInterval,
            nodeTtl: config.nodeTtl,
            allowedOrigins: config.allowedOrigins,
            historyTtl: HISTORY_TTL_MS,
            // Identity comes from a signed token checked at the upgrade, never from what the client
            // says: a client id decides who receives a user's invokes, and connecting under it
            // closes the socket that had it.
            authenticateConnection: (request) => s.authenticate(request),
            resolveClientId: (connection, _request, authentication) => (typeof authentication?.userId === 'string' ? authentication.userId : connection.id),
            // Other members see who someone is, never the rest of their metadata (e-mail...).
            visibleMetadata: (metadata) => {
              const { userId, profile } = metadata as UserMetadata;
              return { userId, name: profile?.name };
            },
          }),
        }),
      ],
      controllers: [ChatController, HealthController, DemoController],
      providers: [AuthenticatedGuard, Documents, { provide: Counters, useFactory: () => Counters.forConfig(config) }],
    };
  }
}
