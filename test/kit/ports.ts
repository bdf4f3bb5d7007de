/**
 * Ports for tests. Servers under test bind port 0 and say which port they got; what is left is a
 * port where nobody listens, for "cannot connect" tests.
 *
 * A port that was free a moment ago is not enough for those: with test files running in parallel,
 * another test's server (or an outgoing connection) can take it before the connect. So the port is
 * held by the client end of a loopback connection: nobody listens on it, so a connect is refused
 * (ECONNREFUSED), and nobody can bind it (EADDRINUSE) until it is released.
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

export interface ClosedPort extends AsyncDisposable {
  /** A loopback TCP port (127.0.0.1) where connecting is refused until `close()`. */
  readonly port: number;
  close(): Promise<void>;
}

/** `await using closed = await closedPort();` then connect to `127.0.0.1:${closed.port}`. */
export async function closedPort(): Promise<ClosedPort> {
  const server = createServer();
  const accepted: Socket[] = [];
  // Unreferenced, so a test that forgets `close()` does not keep its process alive.
  server.on('connection', (socket) => accepted.push(socket.unref()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const client = createConnection({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
  } catch (error) {
    server.close();
    throw error;
  }
  // The listening port is not needed any more: only the connection holds the client's port.
  server.close();
  client.unref();
  const port = client.localPort!;
  const close = async (): Promise<void> => {
    client.destroy();
    for (const socket of accepted) socket.destroy();
  };
  return { port, close, [Symbol.asyncDispose]: close };
}
