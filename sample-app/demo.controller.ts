import { Controller, Get, Header, NotFoundException } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where `npm run build` puts the bundled page (dist/sample-app/demo), also when the app runs from its sources. */
const DEMO_DIR = existsSync(join(__dirname, 'demo', 'demo.js')) ? join(__dirname, 'demo') : join(__dirname, '..', 'dist', 'sample-app', 'demo');

/** The page may talk to its own origin only (the WebSocket included), and runs no inline script. */
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

function read(file: string): string | undefined {
  const path = join(DEMO_DIR, file);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** `GET /`: the demo page (built by `npm run build`), its script and its styles. */
@Controller()
export class DemoController {
  private readonly files = { html: read('index.html'), js: read('demo.js'), css: read('demo.css') };

  private file(name: keyof DemoController['files']): string {
    const content = this.files[name];
    if (content === undefined) throw new NotFoundException('The demo page is not built: run "npm run build"');
    return content;
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  page(): string {
    return this.file('html');
  }

  @Get('demo.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  script(): string {
    return this.file('js');
  }

  @Get('demo.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  styles(): string {
    return this.file('css');
  }
}
