#!/usr/bin/env node
/** `netspectra <command>`: the command-line entry point. */
import { readFileSync } from 'node:fs';
import { runAi } from './ai.js';
import { runAnalyze } from './analyze.js';
import { runApi } from './api.js';
import { runAsk } from './ask.js';
import { runEngine } from './engine.js';
import { runGenPcap } from './gen-pcap.js';
import { runProbe } from './probe.js';
import { runQuery } from './query.js';
import { runServe } from './serve.js';
import { processIo, reportError, usageError, type CliIo } from './io.js';

const HELP = `Usage: netspectra <command> [options]

Commands:
  analyze <capture...>   analyse capture files: exact flows, heavy hitters, super-spreaders
                         (alias: pcap-analyzer)
  gen-pcap               write a synthetic capture with its ground truth
  probe                  publish live or replayed packets on NATS, or print them (alias: ns-probe)
  engine                 count the packets probes publish on NATS, snapshots to the writers;
                         several engines share the traffic by partition (alias: ns-engine)
  ai                     the AI service: LLM analyses of alerts, streamed answers (alias: ns-ai)
  ask "question"         ask the AI service, the answer streams in (the original's ask-ai)
  api                    serve a store: Thrift QueryService, HTTP API, Grafana datasource and
                         the web dashboard (alias: ns-api)
  query <subcommand>     ask the query API: tasks, aggregate, trace, heavy-hitters,
                         super-spreaders, top, flows, series, alerts
  serve                  capture (live or files), count, store, alert and serve the APIs and
                         the dashboard in one process: the one-machine product
  help [command]         show help
  version                print the version

Run 'netspectra <command> --help' for a command's options.
`;

const COMMANDS: Record<string, (argv: string[], io: CliIo) => Promise<number>> = {
  analyze: runAnalyze,
  'gen-pcap': (argv) => runGenPcap(argv),
  probe: runProbe,
  engine: runEngine,
  ai: runAi,
  ask: runAsk,
  api: runApi,
  query: runQuery,
  serve: runServe,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === 'help') {
    const target = rest[0];
    if (target !== undefined && COMMANDS[target] !== undefined) return COMMANDS[target](['--help'], io);
    io.stdout.write(HELP);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    io.stdout.write(`netspectra ${version()}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) return reportError(io, usageError(`unknown command "${command}"\n\n${HELP}`));
  return run(rest, io);
}

process.exitCode = await main(process.argv.slice(2));
