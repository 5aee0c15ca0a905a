import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { RunningService } from '../services.js';

/** Runs `work` after every earlier piece of work has settled: the emulators' handlers, one at a time. */
export type Exclusive = <T>(work: () => T | Promise<T>) => Promise<T>;

/**
 * An HTTP server on an ephemeral loopback port for the project's own emulators, whatever their
 * wire protocol: `serve` gets each request and a queue that runs handlers one at a time, so an
 * emulator's state needs no locking. Stopping waits for the queue, then closes every connection.
 */
export async function startLoopbackServer(
  serve: (exclusive: Exclusive, request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<RunningService> {
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive: Exclusive = (work) => {
    const result = queue.then(work);
    queue = result.catch(() => undefined);
    return result;
  };
  const server = createServer((request, response) => void serve(exclusive, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      await queue;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
