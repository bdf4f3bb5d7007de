/** The `netspectra` entry point: commands are found by name only, loaded when they run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const execFileAsync = promisify(execFile);

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cli, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('a name that is no command, Object.prototype\'s included, is a usage error, not a crash', async () => {
  for (const name of ['nonsense', 'constructor', 'toString', '__proto__']) {
    const result = await run([name]);
    assert.equal(result.code, 2, `${name}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`NS_ERR_USAGE: unknown command "${name}"`));
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('help COMMAND loads that command and prints its usage; version prints the package version', async () => {
  const help = await run(['help', 'engine']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: netspectra engine/);
  const version = await run(['version']);
  assert.match(version.stdout, /^netspectra \d+\.\d+\.\d+\n$/);
});
