/**
 * The load generator of bench/http-bench.ts, run in a child process: autocannon on the server's
 * event loop would delay the very requests it times (on 2 cores it still shares the CPU). It gets
 * autocannon's options as its first message and sends back the result. (Not a worker thread:
 * inside one, autocannon returns raw histograms for its own workers to merge.)
 */
import { createRequire } from 'node:module';

type Autocannon = (options: Record<string, unknown>) => Promise<unknown>;
// autocannon ships no types; this is the part of its API used here
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

process.once('message', (options: Record<string, unknown>) => {
  void autocannon(options).then((result) => process.send!(result, () => process.exit(0)));
});
