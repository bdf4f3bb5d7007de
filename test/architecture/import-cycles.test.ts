/**
 * No import cycles among the modules of src/: a cycle makes the evaluation order of its modules
 * depend on which one is imported first (a class used before its module has run is undefined), and
 * it usually means a shared piece belongs in a module of its own. Type-only imports count too, so
 * the graph stays acyclic whatever the compiler keeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = new URL('../../../', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module of `files` and the modules of `files` it imports or re-exports from. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((imported) => imported.fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => resolve(dirname(file), specifier.replace(/\.js$/, '.ts')))
      .filter((target) => known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The strongly connected components with more than one module, or one that imports itself (Tarjan). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

test('the cycle finder reads type-only, re-export and dynamic imports, and finds every cycle', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
    ['e', ['e']],
  ]);
  assert.deepEqual(cycles(graph), [['a', 'b', 'c'], ['e']]);
  const source = "import type { A } from './a.js';\nexport { B } from './b.js';\nconst c = await import('./c.js');";
  assert.deepEqual(
    ts.preProcessFile(source, true, true).importedFiles.map((imported) => imported.fileName),
    ['./a.js', './b.js', './c.js'],
  );
});

test('no module of src/ imports itself through other modules', () => {
  const files = sourceFiles(join(root, 'src')).map((file) => resolve(file));
  const graph = importGraph(files);
  // The graph must be the real one: an engine module that imports the model is in it.
  assert.ok(graph.get(resolve(root, 'src/engine/manager.ts'))?.includes(resolve(root, 'src/model/ports.ts')));
  const found = cycles(graph).map((component) => component.map((file) => relative(root, file)));
  assert.deepEqual(found, [], `import cycles:\n${found.map((component) => `  ${component.join(' ↔ ')}`).join('\n')}`);
});
