/**
 * `netspectra gen-pcap`: writes a synthetic capture and its ground truth (`<out>.truth.json`).
 * The generator and the file writing are src/synth's; this file owns the flags.
 */
import { parseArgs } from 'node:util';
import { NetSpectraError, isNetSpectraError, errorMessage } from '../model/errors.js';
import type { TrafficConfig, TrafficOptions } from '../synth/index.js';
import { DEFAULT_TRAFFIC_CONFIG, MIN_SNAPLEN, resolveTrafficConfig, writeSyntheticCapture } from '../synth/index.js';

const HELP = `Usage: netspectra gen-pcap --out FILE --packets N [options]

Writes a reproducible synthetic capture (classic pcap, Ethernet, headers only) and its exact
ground truth as FILE.truth.json (the fields of tools/truth.sh plus super_spreaders and syn_flood).

Required:
  --out FILE          capture to write
  --packets N         packet records in the capture

Traffic:
  --flows F           Zipf-sized 5-tuple flows, at least one packet each
                      (default: min(10000, packets / 20))
  --zipf S            Zipf exponent of the flow sizes (default ${DEFAULT_TRAFFIC_CONFIG.zipfExponent})
  --spreaders K       super-spreader sources (default ${DEFAULT_TRAFFIC_CONFIG.spreaders})
  --spread D          distinct destinations per super-spreader, 1-3 SYNs each
                      (default ${DEFAULT_TRAFFIC_CONFIG.spreadDestinations})
  --syn-flood N       SYN flood packets from spoofed sources to one victim's port 80
                      (default ${DEFAULT_TRAFFIC_CONFIG.synFloodPackets})
  --ipv6 P            fraction of flows that are IPv6, 0..1 (default ${DEFAULT_TRAFFIC_CONFIG.ipv6Fraction})
  --seed X            PRNG seed, a non-negative integer; same seed, same bytes (default ${DEFAULT_TRAFFIC_CONFIG.seed})

Capture:
  --duration SECONDS  capture time the packets span (default ${DEFAULT_TRAFFIC_CONFIG.durationSeconds})
  --start ISO         timestamp of the first instant (default ${DEFAULT_TRAFFIC_CONFIG.start})
  --nanosecond        nanosecond timestamps (pcap magic a1b23c4d) instead of microseconds
  --snaplen BYTES     captured bytes per record, at least ${MIN_SNAPLEN} (default ${DEFAULT_TRAFFIC_CONFIG.snaplen})

  -h, --help          show this help

Needs: packets >= flows + spreaders * spread + syn-flood.
`;

/** The flag that sets each config field, so validation errors name what the user typed. */
const FLAG_FOR_FIELD: Record<keyof TrafficConfig, string> = {
  packets: '--packets',
  flows: '--flows',
  zipfExponent: '--zipf',
  spreaders: '--spreaders',
  spreadDestinations: '--spread',
  synFloodPackets: '--syn-flood',
  ipv6Fraction: '--ipv6',
  seed: '--seed',
  durationSeconds: '--duration',
  start: '--start',
  nanosecond: '--nanosecond',
  snaplen: '--snaplen',
};

const OPTIONS = {
  out: { type: 'string' },
  packets: { type: 'string' },
  flows: { type: 'string' },
  zipf: { type: 'string' },
  spreaders: { type: 'string' },
  spread: { type: 'string' },
  'syn-flood': { type: 'string' },
  ipv6: { type: 'string' },
  seed: { type: 'string' },
  duration: { type: 'string' },
  start: { type: 'string' },
  nanosecond: { type: 'boolean' },
  snaplen: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string, cause?: unknown): NetSpectraError {
  return new NetSpectraError('NS_ERR_USAGE', message, cause === undefined ? {} : { cause });
}

function parseNumber(flag: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw usage(`${flag} expects ${integer ? 'an integer' : 'a number'}, got '${text}'`);
  }
  return value;
}

export interface GenPcapCommand {
  readonly help: false;
  readonly out: string;
  readonly config: Readonly<TrafficConfig>;
}

/** Parse and validate the flags; throws NetSpectraError NS_ERR_USAGE naming the flag at fault. */
export function parseGenPcapArgs(argv: readonly string[]): GenPcapCommand | { readonly help: true } {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    // node:util's messages already name the option ("Unknown option '--flow'").
    throw usage(errorMessage(error), error);
  }
  if (values.help === true) return { help: true };
  if (values.out === undefined || values.out === '') throw usage('--out FILE is required');
  const packets = parseNumber('--packets', values.packets, true);
  if (packets === undefined) throw usage('--packets N is required');
  const options: TrafficOptions = {
    packets,
    flows: parseNumber('--flows', values.flows, true),
    zipfExponent: parseNumber('--zipf', values.zipf, false),
    spreaders: parseNumber('--spreaders', values.spreaders, true),
    spreadDestinations: parseNumber('--spread', values.spread, true),
    synFloodPackets: parseNumber('--syn-flood', values['syn-flood'], true),
    ipv6Fraction: parseNumber('--ipv6', values.ipv6, false),
    seed: parseNumber('--seed', values.seed, true),
    durationSeconds: parseNumber('--duration', values.duration, false),
    start: values.start,
    nanosecond: values.nanosecond,
    snaplen: parseNumber('--snaplen', values.snaplen, true),
  };
  try {
    return { help: false, out: values.out, config: resolveTrafficConfig(options) };
  } catch (error) {
    if (isNetSpectraError(error) && error.location.key !== undefined) {
      const flag = FLAG_FOR_FIELD[error.location.key as keyof TrafficConfig] ?? error.location.key;
      throw usage(`${flag}: ${error.message}`, error);
    }
    throw error;
  }
}

export interface GenPcapIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** Exit codes: 0 done (or --help), 1 the files could not be written, 2 bad command line. */
export async function runGenPcap(argv: string[], io: GenPcapIo = process): Promise<number> {
  let command;
  try {
    command = parseGenPcapArgs(argv);
  } catch (error) {
    if (isNetSpectraError(error) && error.code === 'NS_ERR_USAGE') {
      io.stderr.write(`netspectra: ${error.toDisplayString()}\nRun 'netspectra gen-pcap --help' for usage.\n`);
      return 2;
    }
    throw error;
  }
  if (command.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const truthPath = `${command.out}.truth.json`;
  try {
    const { summary, fileBytes, seconds } = await writeSyntheticCapture(command.config, { pcapPath: command.out, truthPath });
    const mib = (fileBytes / 2 ** 20).toFixed(1);
    io.stdout.write(
      `wrote ${summary.frames} packets, ${summary.flowCount} flows (${mib} MiB) to ${command.out} in ${seconds.toFixed(2)} s ` +
        `(${Math.round(summary.frames / seconds)} packets/s); truth in ${truthPath}\n`,
    );
    return 0;
  } catch (error) {
    io.stderr.write(`netspectra: ${isNetSpectraError(error) ? error.toDisplayString() : String(error)}\n`);
    return 1;
  }
}
