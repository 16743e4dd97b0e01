import { BadRequestException, Body, Controller, HttpCode, Post } from '@nestjs/common';
import { isUserId, Sessions } from './sessions';

/** `POST /login` with `{ "userId": "alice" }` answers `{ "token": "..." }` (a demo: no password). */
@Controller()
export class LoginController {
  constructor(private readonly sessions: Sessions) {}

  @Post('login')
  @HttpCode(200)
  login(@Body() body: unknown): { token: string } {
    const userId = (body as { userId?: unknown } | undefined)?.userId;
    if (!isUserId(userId)) throw new BadRequestException('userId must be 1 to 64 letters, digits, "_", "-" or "."');
    return { token: this.sessions.issue(userId) };
  }
}
