#!/usr/bin/env node
/** `netspectra <command>`: the command-line entry point. */
import { readFileSync } from 'node:fs';
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

type Command = (argv: string[], io: CliIo) => Promise<number>;

// Each command is loaded when it runs: a process loads only the modules its command needs (the
// engine does not load the HTTP API, `version` loads nothing), which saves about a second of start.
const COMMANDS: Record<string, () => Promise<Command>> = {
  analyze: async () => (await import('./analyze.js')).runAnalyze,
  'gen-pcap': async () => {
    const { runGenPcap } = await import('./gen-pcap.js');
    return (argv) => runGenPcap(argv);
  },
  probe: async () => (await import('./probe.js')).runProbe,
  engine: async () => (await import('./engine.js')).runEngine,
  ai: async () => (await import('./ai.js')).runAi,
  ask: async () => (await import('./ask.js')).runAsk,
  api: async () => (await import('./api.js')).runApi,
  query: async () => (await import('./query.js')).runQuery,
  serve: async () => (await import('./serve.js')).runServe,
};

/** A command by its name; never one of Object.prototype's (`netspectra constructor` is unknown). */
function commandNamed(name: string): (() => Promise<Command>) | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

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
    const load = target === undefined ? undefined : commandNamed(target);
    if (load !== undefined) return (await load())(['--help'], io);
    io.stdout.write(HELP);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    io.stdout.write(`netspectra ${version()}\n`);
    return 0;
  }
  const load = commandNamed(command);
  if (load === undefined) return reportError(io, usageError(`unknown command "${command}"\n\n${HELP}`));
  return (await load())(rest, io);
}

process.exitCode = await main(process.argv.slice(2));
