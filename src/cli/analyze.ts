/** `netspectra analyze` (alias `pcap-analyzer`): a full analysis of capture files, printed and stored. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { runAnalysis } from '../pipeline/offline-analysis.js';
import { ProgressBar } from './progress.js';
import { buildReport, renderReport } from '../pipeline/analysis-report.js';
import { flowLines, writeLines } from '../store/file-writers.js';
import { notifiersFromConfig } from '../alerting/notifiers/index.js';
import { configuredAnalyst } from '../pipeline/writer-set.js';
import type { CliIo } from './io.js';
import { integerFlag, reportError, usageError } from './io.js';

export const ANALYZE_HELP = `Usage: netspectra analyze <capture...> [options]
       pcap-analyzer <capture...> [options]

Analyse pcap, pcapng or gzip-compressed captures: exact per-flow accounting, heavy hitters and
super-spreaders. Prints a report and stores every snapshot in an embedded DuckDB file.

Options:
  --config FILE      configuration in the original's schema (default: built-in tasks
                     per_five_tuple, per_src_ip, ss_src_dst, cm_src_left)
  --workers N        engine worker threads (default: aggregator.num_workers = number of
                     cores); the main thread also runs a share of the tasks; 0 runs them
                     all on the main thread. Results do not depend on it.
  --top N            rows in each top list of the report (default 10)
  --json             print exactly one JSON object instead of the text report
  --flows-out FILE   write every flow of every exact task as JSON lines
  --store FILE       embedded store file (default: the config's duckdb writer path,
                     netspectra.duckdb)
  --no-store         do not write the embedded store
  --no-alerts        do not evaluate the alerter's rules
  --no-notify        evaluate the rules and report alerts, but send no notification
  --no-progress      no progress bar (it is only drawn on a terminal anyway)
  -h, --help         this help

Snapshots follow packet time: one per writer snapshot_interval of capture time and one at the
end; the measurement period resets all tasks after a snapshot. The alerter's rules (config
alerter.rules) are evaluated every alerter.check_interval of capture time, at every period end
and at the end; alerts that fire are listed in the report and sent to the configured notifiers
(smtp, alerter.notifiers) once each, with a resolved notice when they clear (docs/alerting.md).

Exit status: 0 success; 1 an input was damaged or a snapshot could not be written (the report
is still printed, the error goes to stderr with its code); 2 usage or configuration error.
`;

export async function runAnalyze(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        workers: { type: 'string' },
        top: { type: 'string' },
        json: { type: 'boolean', default: false },
        'flows-out': { type: 'string' },
        store: { type: 'string' },
        'no-store': { type: 'boolean', default: false },
        'no-progress': { type: 'boolean', default: false },
        'no-alerts': { type: 'boolean', default: false },
        'no-notify': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return reportError(io, usageError(`${(error as Error).message}\n\n${ANALYZE_HELP}`));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(ANALYZE_HELP);
    return 0;
  }
  try {
    if (positionals.length === 0) throw usageError('analyze needs at least one capture file (see --help)');
    const workers = values.workers === undefined ? undefined : integerFlag('--workers', values.workers, 0, 256);
    const top = values.top === undefined ? 10 : integerFlag('--top', values.top, 0, 100_000);
    if (values.store !== undefined && values['no-store']) throw usageError('--store and --no-store cannot be used together');
    const config: NetSpectraConfig = loadConfig(values.config === undefined ? {} : { file: values.config });
    const progress = values.json || values['no-progress'] ? undefined : new ProgressBar('analysing', io.stderr);
    const notifiers = values['no-alerts'] || values['no-notify'] ? [] : notifiersFromConfig(config, { stdout: io.stderr, stderr: io.stderr });
    const result = await runAnalysis({
      alerting: values['no-alerts']
        ? false
        : {
            notifiers,
            ...configuredAnalyst(config, notifiers.length),
          },
      files: positionals,
      config,
      workers,
      store: values['no-store'] ? null : values.store,
      onProgress: progress === undefined ? undefined : (done, total, packets) => progress.update(done, total, packets),
      onWarning: (message) => io.stderr.write(`netspectra: warning: ${message}\n`),
    });
    progress?.done();
    const report = buildReport(result, top);
    if (values['flows-out'] !== undefined) {
      await writeLines(values['flows-out'], (emit) => {
        for (const group of result.finals) for (const task of group.tasks) if (task.kind === 'exact') flowLines(task, emit);
      });
    }
    io.stdout.write(values.json ? JSON.stringify(report) + '\n' : renderReport(report));
    let status = 0;
    for (const file of result.files) {
      if (file.error !== undefined) {
        reportError(io, file.error);
        status = 1;
      }
    }
    for (const error of result.writeErrors) {
      reportError(io, error);
      status = 1;
    }
    return status;
  } catch (error) {
    return reportError(io, error);
  }
}
