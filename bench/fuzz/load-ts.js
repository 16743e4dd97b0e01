'use strict';
// Lets plain Node require the fuzz engine, which is TypeScript so the jest suite can share it:
// each .ts file is transpiled as it loads by the TypeScript compiler already in devDependencies.
// Types are erased, not checked here (`npm run typecheck` checks them).
const fs = require('node:fs');
const ts = require('typescript');

const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions });
  module._compile(outputText, filename);
};
