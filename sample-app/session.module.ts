import { Module, type DynamicModule } from '@nestjs/common';
import type { SampleConfig } from './config';
import { LoginController } from './login.controller';
import { resolveSessionSecret } from './session-secret';
import { Sessions } from './sessions';

/** Demo login (`POST /login`) and the `Sessions` that `authenticateConnection` uses. */
@Module({})
export class SessionModule {
  static forConfig(config: SampleConfig): DynamicModule {
    return {
      module: SessionModule,
      controllers: [LoginController],
      providers: [{ provide: Sessions, useFactory: async () => new Sessions(await resolveSessionSecret(config), config.premiumUsers) }],
      exports: [Sessions],
    };
  }
}
