import { readFileSync } from 'node:fs';

/** One fenced TypeScript block of a Markdown file. */
export interface DocBlock {
  /** Where it is, for error messages: `docs/client.md:42`. */
  where: string;
  code: string;
  /** `// app.module.ts` on the first line: a file of the page's project, compiled together with the others. */
  file?: string;
  /** `// (partial: <wrapper>) ...` on the first line: compiled inside that wrapper (see wrappers.ts). */
  wrapper?: string;
}

const FILE_MARKER = /^\/\/ ([\w.-]+\.ts)\b/;
const PARTIAL_MARKER = /^\/\/ \(partial: ([\w-]+)\)/;

/** Every ```ts / ```typescript block of a Markdown file, in order. */
export function docBlocks(path: string, label = path): DocBlock[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) {
      if (/^```/.test(lines[i])) while (++i < lines.length && !/^```\s*$/.test(lines[i]));
      continue;
    }
    const start = i + 1;
    while (++i < lines.length && !/^```\s*$/.test(lines[i]));
    const code = lines.slice(start, i).join('\n');
    const first = lines[start] ?? '';
    blocks.push({ where: `${label}:${start + 1}`, code, file: FILE_MARKER.exec(first)?.[1], wrapper: PARTIAL_MARKER.exec(first)?.[1] });
  }
  return blocks;
}
