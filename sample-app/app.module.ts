import { Module, type DynamicModule } from '@nestjs/common';
import { MeshModule } from '../lib';
import { AuthenticatedGuard } from './authenticated.guard';
import { ChatController } from './chat.controller';
import { HealthController } from './health.controller';
import type { SampleConfig } from './config';

function clientIdFromUrl(url: string | undefined): string | undefined {
  const id = new URL(url ?? '/', 'http://localhost').searchParams.get('clientId');
  return id && id.length <= 200 ? id : undefined;
}

/** The sample app for a configuration (tests start it with their own Redis and key prefix). */
@Module({})
export class AppModule {
  static forConfig(config: SampleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        MeshModule.forRoot({
          path: '/mesh',
          redis: config.redisUrl,
          prefix: config.prefix,
          keyPrefix: config.keyPrefix,
          pingInterval: config.pingInterval,
          latencyInterval: config.latencyInterval,
          nodeHeartbeatInterval: config.nodeHeartbeatInterval,
          nodeTtl: config.nodeTtl,
          // Clients connecting with ?clientId=ID register under ID (else their connection id).
          resolveClientId: (connection, request) => clientIdFromUrl(request.url) ?? connection.id,
        }),
      ],
      controllers: [ChatController, HealthController],
      providers: [AuthenticatedGuard],
    };
  }
}
