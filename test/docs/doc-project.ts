import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';
import type { DocBlock } from './doc-blocks';
import { WRAPPERS } from './wrappers';

const ROOT = join(__dirname, '..', '..');

/**
 * What a new Nest project compiles with (CommonJS, Node resolution, decorators), made stricter:
 * `strict`, and `skipLibCheck: false` so that the package's own type declarations are checked as
 * a consumer's compiler would (a missing types package shows up as TS7016).
 */
const COMPILER_OPTIONS: ts.CompilerOptions = {
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  types: ['node'],
  strict: true,
  skipLibCheck: false,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
};

interface SourceFile {
  page: string;
  path: string;
  block: DocBlock;
  /** Lines added in front of the block's code (a wrapper's). */
  offset: number;
}

/**
 * The TypeScript blocks of Markdown pages as small projects, one folder per page, that import the
 * built package as `nestjs-mesh` (a symlink to this repository in their node_modules; every other
 * package comes from this repository's node_modules). In a page, blocks that name a file
 * (`// app.module.ts`) form one project; every other block is a file of its own. All pages
 * compile in one program, so the libraries' declarations are checked once.
 */
export class DocProjects {
  readonly dir = join(ROOT, 'node_modules', '.cache', 'docs');
  private readonly files: SourceFile[] = [];

  constructor() {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(join(this.dir, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(this.dir, 'node_modules', 'nestjs-mesh'), 'dir');
  }

  /** The folder of a page's project. */
  folder(page: string): string {
    return join(this.dir, page.replace(/[/.]/g, '-'));
  }

  add(page: string, blocks: DocBlock[]): void {
    const folder = this.folder(page);
    mkdirSync(folder, { recursive: true });
    const names = new Set<string>();
    blocks.forEach((block, index) => {
      const wrapper = block.wrapper ? WRAPPERS[block.wrapper] : undefined;
      if (block.wrapper && !wrapper) throw new Error(`${block.where}: unknown wrapper "${block.wrapper}" (known: ${Object.keys(WRAPPERS).join(', ')})`);
      const name = block.file ?? `block-${index + 1}.ts`;
      if (names.has(name)) throw new Error(`${block.where}: a second block names the file ${name}`);
      names.add(name);
      const code = wrapper ? `${wrapper.before}\n${block.code}\n${wrapper.after}\n` : `${block.code}\n`;
      // A block without imports or exports would be a script sharing one global scope with the others.
      const path = join(folder, name);
      writeFileSync(path, /^\s*(import|export)\s/m.test(code) ? code : `${code}export {};\n`);
      this.files.push({ page, path, block, offset: wrapper ? wrapper.before.split('\n').length : 0 });
    });
  }

  /** Compiles every page (and with `emit`, writes each page's `out/`); the problems by page, located in the Markdown. */
  compile(emit = false): Map<string, string[]> {
    const program = ts.createProgram(
      this.files.map((f) => f.path),
      { ...COMPILER_OPTIONS, outDir: join(this.dir, 'out'), rootDir: this.dir, noEmit: !emit },
    );
    const diagnostics = [...ts.getPreEmitDiagnostics(program), ...(emit ? program.emit().diagnostics : [])];
    const byPage = new Map<string, string[]>(this.files.map((f) => [f.page, []]));
    for (const diagnostic of diagnostics) {
      const own = this.files.find((f) => f.path === diagnostic.file?.fileName);
      const page = own?.page ?? 'libraries';
      if (!byPage.has(page)) byPage.set(page, []);
      byPage.get(page)!.push(this.describe(diagnostic, own));
    }
    return byPage;
  }

  private describe(diagnostic: ts.Diagnostic, own: SourceFile | undefined): string {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!diagnostic.file || diagnostic.start === undefined) return message;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    if (!own) return `${relative(ROOT, diagnostic.file.fileName)}:${line + 1}: TS${diagnostic.code} ${message}`;
    const [doc, start] = own.block.where.split(':');
    return `${doc}:${Number(start) + line - own.offset}: TS${diagnostic.code} ${message}`;
  }

  /** The compiled JavaScript of a page's file (after `compile(true)`). */
  output(page: string, file: string): string {
    return join(this.dir, 'out', relative(this.dir, this.folder(page)), file.replace(/\.ts$/, '.js'));
  }
}
