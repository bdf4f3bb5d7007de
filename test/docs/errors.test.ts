import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes } from '../../src/model/errors.js';

const root = new URL('../../../', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test('docs/errors.md documents exactly the codes in src/model/errors.ts', () => {
  const documented = [...readFileSync(join(root, 'docs/errors.md'), 'utf8').matchAll(/^### (NS_ERR_[A-Z0-9_]+)$/gm)].map((m) => m[1]);
  assert.deepEqual([...documented].sort(), Object.keys(ErrorCodes).sort());
  assert.equal(new Set(documented).size, documented.length, 'a code is documented twice');
});

test('every error code used in src/ is declared, and every declared code is used', () => {
  const declared = new Set(Object.keys(ErrorCodes));
  const used = new Set<string>();
  for (const file of sourceFiles(join(root, 'src'))) {
    if (file.endsWith(join('model', 'errors.ts'))) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/'(NS_ERR_[A-Z0-9_]*[A-Z0-9])'/g)) used.add(m[1]!);
  }
  for (const code of used) assert.ok(declared.has(code), `${code} is used but not declared`);
  for (const code of declared) assert.ok(used.has(code), `${code} is declared but never raised`);
});
