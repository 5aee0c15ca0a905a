import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { SaasctlError } from '../cli/errors.js';
import type { AuthorizedRequest } from './authorizer.js';
import { errorResponse, type ApiResponse, type DocumentsApi } from './documents.js';

/**
 * The sample API over plain HTTP on the loopback interface (the local stack's stand-in for API
 * Gateway): every request is authorized from its bearer token first, then answered by the
 * documents API with the tenant's credentials. Bodies over MAX_REQUEST_BYTES are refused
 * unread (413), as API Gateway caps its payloads.
 */

export const MAX_REQUEST_BYTES = 128 * 1024;

export interface ApiServerOptions {
  readonly api: DocumentsApi;
  readonly authorize: (authorization: string | undefined) => Promise<AuthorizedRequest>;
  /** Default 127.0.0.1: the sample API is never exposed beyond this machine. */
  readonly host?: string;
  /** 0 for any free port. */
  readonly port: number;
  readonly onRequest?: (entry: { method: string; path: string; status: number; ms: number }) => void;
  readonly onError?: (err: unknown) => void;
}

export interface RunningApi {
  readonly url: string;
  close(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<RunningApi> {
  const host = options.host ?? '127.0.0.1';
  // Requests being answered: close() lets them finish (their data calls would fail on a stack
  // stopping under them), then drops the idle keep-alive connections.
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const started = performance.now();
    const handled = answer(req, options)
      .catch((err: unknown) => {
        options.onError?.(err);
        return errorResponse(err);
      })
      .then((response) => {
        send(res, response);
        options.onRequest?.({
          method: req.method ?? '',
          path: (req.url ?? '').split('?')[0] ?? '',
          status: response.status,
          ms: performance.now() - started,
        });
      })
      .finally(() => inFlight.delete(handled));
    inFlight.add(handled);
  });
  // Keep-alive connections are what a client such as autocannon or a browser reuses.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new SaasctlError('API_PORT_IN_USE', `Port ${options.port} on ${host} is taken.`, {
              exitCode: 4,
              actions: ['Pass another --api-port, or --api-port 0 for any free port.'],
            })
          : err,
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await closed;
    },
  };
}

async function answer(req: IncomingMessage, options: ApiServerOptions): Promise<ApiResponse> {
  const url = new URL(req.url ?? '/', 'http://api.invalid');
  if (url.pathname === '/health') return { status: 200, headers: {}, body: '' };
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REQUEST_BYTES) {
    req.resume();
    return tooLarge();
  }
  const body = await readBody(req);
  if (body === undefined) return tooLarge();
  const auth = await options.authorize(req.headers.authorization);
  const caller = { tenantId: auth.tenant.tenantId, subject: auth.subject, credentials: auth.credentials };
  return options.api.handle(
    {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(body ? { body } : {}),
    },
    caller,
  );
}

/** The body as text, or undefined when it is longer than MAX_REQUEST_BYTES. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even when too large: destroying the request would also cut the 413 off.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
  }
  return size > MAX_REQUEST_BYTES ? undefined : Buffer.concat(chunks).toString('utf8');
}

function tooLarge(): ApiResponse {
  return errorResponse(
    new SaasctlError('PAYLOAD_TOO_LARGE', `Request bodies are at most ${MAX_REQUEST_BYTES} bytes.`, {
      details: { httpStatus: 413 },
    }),
  );
}

function send(res: ServerResponse, response: ApiResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  if (response.status === 401) headers['www-authenticate'] = 'Bearer';
  res.writeHead(response.status, headers);
  res.end(response.body);
}
