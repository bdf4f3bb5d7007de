/**
 * A QueryService client over the original's transport (buffered, binary protocol, plain TCP or
 * TLS), for `netspectra query` and tests. The thrift library neither fails pending calls when the
 * connection drops nor times them out, so every call here races the connection's error and close
 * events and a deadline.
 *
 * Errors: an unreachable server → NS_ERR_API_UNREACHABLE; an application exception whose text
 * starts with one of our codes (what `netspectra api` sends) → that NetSpectraError again, so the
 * CLI reports the server's code; any other exception → NS_ERR_API_REMOTE.
 */
import type { ConnectionOptions } from 'node:tls';
import thrift from 'thrift';
import { ErrorCodes, NetSpectraError, type ErrorCode, errorMessage } from '../model/errors.js';
import { Client } from '../wire/gen/QueryService.js';
import { splitAddress } from './thrift-query-server.js';

export interface ThriftQueryClientOptions {
  /**
   * Time allowed to connect, and for each call (ms).
   * @default 15000
   */
  timeoutMs?: number;
  /** Connect with TLS (options for node:tls, e.g. `ca` to trust a private certificate). */
  tls?: ConnectionOptions;
}

type Connection = ReturnType<typeof thrift.createConnection>;

export class ThriftQueryClient implements AsyncDisposable {
  readonly #connection: Connection;
  readonly #client: Client;
  readonly #address: string;
  readonly #timeoutMs: number;
  /** Set once the connection failed or closed: later calls fail at once with it. */
  #broken: NetSpectraError | undefined;
  readonly #waiters = new Set<(error: NetSpectraError) => void>();

  private constructor(connection: Connection, address: string, timeoutMs: number) {
    this.#connection = connection;
    this.#address = address;
    this.#timeoutMs = timeoutMs;
    this.#client = thrift.createClient(Client, connection);
    const breakAll = (error: NetSpectraError): void => {
      this.#broken ??= error;
      for (const waiter of this.#waiters) waiter(error);
      this.#waiters.clear();
    };
    connection.on('error', (error: Error) => breakAll(unreachable(address, error)));
    connection.on('close', () => breakAll(unreachable(address, new Error('the server closed the connection'))));
  }

  /** Connect to `host:port`; fails with NS_ERR_API_UNREACHABLE when nothing answers in time. */
  static async connect(address: string, options: ThriftQueryClientOptions = {}): Promise<ThriftQueryClient> {
    let host: string;
    let port: number;
    try {
      ({ host, port } = splitAddress(address));
    } catch {
      throw new NetSpectraError('NS_ERR_USAGE', `--addr ${JSON.stringify(address)} is not a host:port address`);
    }
    const timeoutMs = options.timeoutMs ?? 15_000;
    const connectOptions = { transport: thrift.TBufferedTransport, protocol: thrift.TBinaryProtocol, connect_timeout: timeoutMs };
    const connection =
      options.tls === undefined ? thrift.createConnection(host, port, connectOptions) : thrift.createSSLConnection(host, port, { ...connectOptions, ...options.tls });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        connection.end();
        reject(unreachable(address, error));
      };
      connection.once('error', fail);
      connection.once('connect', () => {
        clearTimeout(timer);
        connection.off('error', fail);
        resolve();
      });
    });
    return new ThriftQueryClient(connection, address, timeoutMs);
  }

  /** Run one call of the generated client, with the deadline and error mapping above. */
  async call<T>(method: string, invoke: (client: Client) => Promise<T>): Promise<T> {
    if (this.#broken !== undefined) throw this.#broken;
    let waiter: ((error: NetSpectraError) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        invoke(this.#client).catch((error: unknown) => {
          throw remoteError(method, error);
        }),
        new Promise<never>((_, reject) => {
          waiter = reject;
          this.#waiters.add(reject);
          timer = setTimeout(() => reject(unreachable(this.#address, new Error(`${method} got no answer within ${this.#timeoutMs} ms`))), this.#timeoutMs);
        }),
      ]);
    } finally {
      if (waiter !== undefined) this.#waiters.delete(waiter);
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#connection.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

function unreachable(address: string, cause: Error): NetSpectraError {
  const reason = (cause as NodeJS.ErrnoException).code ?? cause.message;
  return new NetSpectraError('NS_ERR_API_UNREACHABLE', `cannot reach the query API at ${address} (${reason}); is \`netspectra api\` running there? (--addr host:port)`, { cause });
}

/** An application exception from the server as a NetSpectraError with the server's code when it sent one. */
function remoteError(method: string, error: unknown): NetSpectraError {
  if (error instanceof NetSpectraError) return error;
  const message = errorMessage(error);
  const coded = /^(NS_ERR_[A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  if (coded !== null && coded[1]! in ErrorCodes) return new NetSpectraError(coded[1] as ErrorCode, coded[2]!, { cause: error });
  return new NetSpectraError('NS_ERR_API_REMOTE', `the query API refused ${method}: ${message || 'no reason given'}`, { cause: error });
}
