import { Controller, Get, Res } from '@nestjs/common';
import { MeshServer, type MeshHealth } from '../lib';

/** `GET /health`: this node's mesh health; 503 when it is down (for a load balancer's probe). */
@Controller('health')
export class HealthController {
  constructor(private readonly mesh: MeshServer) {}

  @Get()
  async health(@Res({ passthrough: true }) response: { status(code: number): unknown }): Promise<MeshHealth> {
    const health = await this.mesh.health();
    if (health.status === 'down') response.status(503);
    return health;
  }
}
