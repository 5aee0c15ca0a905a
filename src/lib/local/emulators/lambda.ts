import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { preTokenGeneration, type PreTokenEvent } from '../../runtime/pre-token.js';
import type { TenantReader } from '../../runtime/tenant-access.js';
import type { RunningService } from '../services.js';
import { startLoopbackServer } from './loopback.js';

/**
 * A loopback Lambda Invoke API (REST-JSON, `POST /2015-03-31/functions/<name>/invocations`) for
 * the functions the local stack runs in-process: cognito-local calls its triggers through it, as
 * Cognito calls Lambda. Only synchronous Invoke of the configured functions, answered as Lambda
 * answers: the function's result with 200; a function that throws with 200, the
 * `X-Amz-Function-Error: Unhandled` header and an `{errorType, errorMessage}` payload (callers
 * such as Cognito then fail the request); an unknown function ResourceNotFoundException.
 */

/** A function's handler: the parsed event in, the JSON result out; throwing is a function error. */
export type LocalFunction = (event: unknown) => unknown;

export interface LambdaEmulatorOptions {
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** For ARNs in error messages and accepted in the path. */
  readonly region: string;
  readonly accountId: string;
}

/** The name the local stack gives its pre-token-generation function (cognito-local's trigger). */
export const LOCAL_PRE_TOKEN_FUNCTION = 'saasctl-local-pre-token';

/** Lambda's limit on a synchronous invocation's request payload. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export async function startLambdaEmulator(options: LambdaEmulatorOptions): Promise<RunningService> {
  // Invocations share no emulator state, but going through the queue lets stop() wait for them.
  return startLoopbackServer((exclusive, request, response) =>
    exclusive(() => serve(options, request, response)),
  );
}

/** The pre-token trigger's logic as a function of the local Lambda: tenants from `tenants`. */
export function preTokenFunction(tenants: TenantReader): LocalFunction {
  return (event) => preTokenGeneration(event as PreTokenEvent, tenants);
}

async function serve(
  options: LambdaEmulatorOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const match = INVOKE_PATH.exec(url.pathname);
    if (request.method !== 'POST' || !match) {
      return sendError(
        response,
        404,
        'UnknownOperationException',
        `Unknown operation ${request.method} ${url.pathname}`,
      );
    }
    const name = functionName(decodeURIComponent(match[1]), options);
    const handler =
      name !== undefined && Object.hasOwn(options.functions, name) ? options.functions[name] : undefined;
    const body = await readBody(request);
    if (!handler) {
      return sendError(
        response,
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${options.region}:${options.accountId}:function:${name ?? match[1]}`,
      );
    }
    if (body.length > MAX_PAYLOAD_BYTES) {
      return sendError(
        response,
        413,
        'RequestTooLargeException',
        `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
      );
    }
    const invocationType = header(request, 'x-amz-invocation-type') ?? 'RequestResponse';
    if (invocationType === 'DryRun') {
      response.writeHead(204, { 'x-amzn-requestid': randomUUID() }).end();
      return;
    }
    if (invocationType !== 'RequestResponse') {
      return sendError(
        response,
        400,
        'InvalidParameterValueException',
        `The local Lambda runs RequestResponse and DryRun invocations only, not ${invocationType}.`,
      );
    }
    let event: unknown;
    try {
      event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      return sendError(
        response,
        400,
        'InvalidRequestContentException',
        'Could not parse request body into json: the payload is not valid JSON.',
      );
    }
    let result: unknown;
    try {
      result = await handler(event);
    } catch (error) {
      return send(response, 200, functionErrorPayload(error), { 'x-amz-function-error': 'Unhandled' });
    }
    // A handler that returns nothing gives the JSON `null`, as Lambda's Node.js runtime does.
    send(response, 200, result ?? null);
  } catch (error) {
    sendError(response, 500, 'ServiceException', error instanceof Error ? error.message : String(error));
  }
}

/** The name, from a name, a partial ARN (`<account>:function:<name>`) or a full ARN; no qualifiers. */
function functionName(raw: string, options: LambdaEmulatorOptions): string | undefined {
  const arn = /^(?:arn:aws:lambda:([^:]+):)?(\d{12}):function:([^:]+)$/.exec(raw);
  if (!arn) return raw.includes(':') ? undefined : raw;
  const [, region, account, name] = arn;
  if ((region && region !== options.region) || account !== options.accountId) return undefined;
  return name;
}

/** What Lambda's Node.js runtime reports for an uncaught error. */
function functionErrorPayload(error: unknown): { errorType: string; errorMessage: string; trace: string[] } {
  const err = error instanceof Error ? error : new Error(String(error));
  const code = (err as Error & { code?: unknown }).code;
  return {
    errorType: typeof code === 'string' ? code : err.name,
    errorMessage: err.message,
    trace: (err.stack ?? '').split('\n'),
  };
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(
  response: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(payload);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
    ...(status === 200 ? { 'x-amz-executed-version': '$LATEST' } : {}),
    ...headers,
  });
  response.end(body);
}

/** Lambda's REST-JSON errors: the type in `x-amzn-errortype`, `Type` and `message` in the body. */
function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  send(response, status, { Type: 'User', message }, { 'x-amzn-errortype': type });
}
