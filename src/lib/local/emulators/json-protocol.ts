import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { RunningService } from '../services.js';
import { startLoopbackServer, type Exclusive } from './loopback.js';

export type JsonObject = Readonly<Record<string, unknown>>;

/** An error the SDK client sees as an exception whose `name` is `type`. */
export class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
    /** Members the service models on this exception besides its message, such as Organizations' `Reason`. */
    readonly members: JsonObject = {},
  ) {
    super(message);
  }
}

/** What a handler may need beyond the parsed input: AWS limits some requests by their size. */
export interface RequestContext {
  /** The size of the request body in bytes, as sent. */
  readonly bodyBytes: number;
}

export type OperationHandler = (input: JsonObject, context: RequestContext) => unknown;

/** Where the non-AWS operations of an emulator (setup, test switches, inspection) are served. */
export const CONTROL_PATH_PREFIX = '/_saasctl/';

export interface JsonProtocolOptions {
  /** The part of `X-Amz-Target` before the dot, such as `TrentService`. */
  readonly targetPrefix: string;
  readonly operations: Readonly<Record<string, OperationHandler>>;
  /** What the service's model calls the error message member: `message` (the default, as KMS) or `Message` (as Organizations). */
  readonly messageMember?: string;
  /** The `__type` of the 500 sent when a handler fails with anything but a ServiceError (default `InternalFailure`, as KMS). */
  readonly internalFailureType?: string;
  /**
   * Operations that are not part of the AWS API (registering what AWS would know, test switches,
   * reading what the emulator kept): `POST /_saasctl/<Operation>` with a JSON body, answered
   * in the same JSON and run in the same queue as the AWS operations.
   */
  readonly control?: Readonly<Record<string, OperationHandler>>;
}

/**
 * Serves an AWS JSON 1.1 API (POST /, `X-Amz-Target: <prefix>.<Operation>`) on an ephemeral
 * loopback port. Handlers run one at a time, so they never see each other's half-applied state
 * and their writes to disk land in order; `stop()` waits for the last one. A handler that fails
 * (a failed write, say) fails its own request but does not stop the ones after it.
 */
export async function startJsonProtocolServer(options: JsonProtocolOptions): Promise<RunningService> {
  return startLoopbackServer((exclusive, request, response) => serve(options, exclusive, request, response));
}

async function serve(
  options: JsonProtocolOptions,
  exclusive: Exclusive,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const body = await readBody(request);
    const context = { bodyBytes: Buffer.byteLength(body) };
    const url = request.url ?? '/';
    if (url.startsWith(CONTROL_PATH_PREFIX)) {
      const name = url.slice(CONTROL_PATH_PREFIX.length);
      const control =
        request.method === 'POST' && options.control && Object.hasOwn(options.control, name)
          ? options.control[name]
          : undefined;
      if (!control) throw new ServiceError('UnknownOperationException', `Unknown control operation ${name}`);
      reply(response, 200, (await exclusive(() => control(parseBody(body), context))) ?? {});
      return;
    }
    const target = request.headers['x-amz-target'];
    const [prefix, name, extra] = typeof target === 'string' ? target.split('.') : [];
    const operation =
      request.method === 'POST' && prefix === options.targetPrefix && extra === undefined ? name : undefined;
    // hasOwn, so that `<prefix>.constructor` does not find Object's.
    const handler =
      operation && Object.hasOwn(options.operations, operation) ? options.operations[operation] : undefined;
    if (!handler) throw new ServiceError('UnknownOperationException', `Unknown operation ${String(target)}`);
    reply(response, 200, (await exclusive(() => handler(parseBody(body), context))) ?? {});
  } catch (error) {
    const known = error instanceof ServiceError;
    reply(response, known ? error.statusCode : 500, {
      __type: known ? error.type : (options.internalFailureType ?? 'InternalFailure'),
      [options.messageMember ?? 'message']: error instanceof Error ? error.message : String(error),
      ...(known ? error.members : {}),
    });
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseBody(body: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    throw new ServiceError('SerializationException', 'The request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ServiceError('SerializationException', 'The request body must be a JSON object');
  }
  return parsed as JsonObject;
}

function reply(response: ServerResponse, statusCode: number, payload: unknown): void {
  // JSON.stringify drops undefined members, as AWS omits unset ones.
  const body = JSON.stringify(payload);
  response.writeHead(statusCode, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(body);
}

/**
 * Readers for request members. A missing, mistyped or out-of-range member is a
 * ValidationException, the name most JSON-protocol services give it.
 */
export const member = {
  optionalString(input: JsonObject, name: string): string | undefined {
    const value = input[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw invalid(name, 'must be a string');
    return value;
  },
  string(input: JsonObject, name: string): string {
    const value = member.optionalString(input, name);
    if (value === undefined) throw invalid(name, 'must not be null');
    return value;
  },
  optionalInteger(input: JsonObject, name: string, min: number, max: number): number | undefined {
    const value = input[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(name, `must be an integer from ${min} to ${max}`);
    }
    return value;
  },
  optionalStringMap(input: JsonObject, name: string): Readonly<Record<string, string>> | undefined {
    const value = input[name];
    if (value === undefined || value === null) return undefined;
    if (
      typeof value !== 'object' ||
      Array.isArray(value) ||
      Object.values(value).some((v) => typeof v !== 'string')
    ) {
      throw invalid(name, 'must be a map of strings');
    }
    return value as Record<string, string>;
  },
  optionalList(input: JsonObject, name: string): readonly unknown[] | undefined {
    const value = input[name];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) throw invalid(name, 'must be a list');
    return value;
  },
  /** Blobs travel as base64 strings in JSON. */
  optionalBlob(input: JsonObject, name: string): Buffer | undefined {
    const value = member.optionalString(input, name);
    return value === undefined ? undefined : Buffer.from(value, 'base64');
  },
};

function invalid(name: string, constraint: string): ServiceError {
  return new ServiceError('ValidationException', `1 validation error detected: ${name} ${constraint}`);
}
