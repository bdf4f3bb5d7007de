/** `netspectra analyze` (alias `pcap-analyzer`): a full analysis of capture files, printed and stored. */
import { loadConfig } from '../config/load.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { runAnalysis } from '../pipeline/offline-analysis.js';
import { ProgressBar } from './progress.js';
import { buildReport, renderReport } from '../pipeline/analysis-report.js';
import { flowLines, writeLines } from '../store/file-writers.js';
import { notifiersFromConfig } from '../alerting/notifiers/index.js';
import { configuredAnalyst } from '../pipeline/writer-set.js';
import type { CliIo } from './io.js';
import { integerFlag, parseCommand, reportError, usageError } from './io.js';
import { ANALYZE_HELP } from './help.js';

export async function runAnalyze(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(io, argv, ANALYZE_HELP, {
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
  }, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
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
