/**
 * The shared real captures and their tshark truth files: `pcaps/` of the `shared` folder the
 * repository is cloned beside (they are never copied into the project). CI always has it; a
 * checkout elsewhere (a worktree, a fresh clone on its own) may not.
 *
 *   const shared = sharedPcaps();
 *   test('…', { skip: shared.skip }, () => readFileSync(join(shared.dir, 'example.pcap')));
 *
 * Without the folder, `skip` is a reason and the tests are skipped; with `CI` set, `sharedPcaps()`
 * throws instead, so the test file fails with the reason rather than passing without its tests.
 * Files that read the captures at load time must do so only when `skip` is false.
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The captures folder, from dist/test/kit/ where the compiled tests run (it may not exist). */
export const SHARED_PCAPS = fileURLToPath(new URL('../../../../shared/pcaps/', import.meta.url));

export interface SharedPcaps {
  /** The folder holding the captures, with a `truth/` folder of `<capture>.json` files. */
  dir: string;
  /** For `test(name, { skip }, …)` and `describe(name, { skip }, …)`: a reason, or false when present. */
  skip: string | false;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The shared captures, or why their tests are skipped; throws when they are missing and `CI` is set. */
export function sharedPcaps(): SharedPcaps {
  if (isDirectory(SHARED_PCAPS)) return { dir: SHARED_PCAPS, skip: false };
  const reason = `the shared captures are not at ${SHARED_PCAPS} (the repository is cloned beside the shared folder in CI)`;
  if (process.env.CI) throw new Error(`${reason}, and CI must run the tests that read them`);
  return { dir: SHARED_PCAPS, skip: reason };
}
