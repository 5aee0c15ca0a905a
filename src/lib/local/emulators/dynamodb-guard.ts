import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

import { evaluatePolicy, type IamPolicyDocument } from '../../runtime/iam-eval.js';
import type { StoredSession } from './sts.js';

/**
 * IAM for dynalite, for tenant sessions only: a request signed with credentials the STS
 * emulator vended (an `ASIA` key it remembers) is judged against that session's policy before
 * dynalite sees it, and refused with AccessDeniedException as DynamoDB would. So on the local
 * stack, too, a tenant session reaches only its own partitions, and a broken policy shows.
 * Requests with long-term keys (the operator's) pass unjudged: IAM roles are not emulated. An
 * `ASIA` key the emulator never vended is refused (UnrecognizedClientException).
 *
 * What is judged is the session policy alone (the tenant runtime role itself is assumed to
 * allow the runtime's whole reach, as infra grants it). The request context is what DynamoDB
 * puts in it: `dynamodb:LeadingKeys` is the partition key values of the request, read from the
 * `PK` attribute (the key of every saasctl data table), and a Query's from its key condition.
 * An expired session is refused with ExpiredTokenException.
 */

export interface GuardOptions {
  readonly region: string;
  readonly accountId: string;
  /** The session of an access key id, when the STS emulator vended it. */
  readonly session: (accessKeyId: string) => Promise<StoredSession | undefined>;
  readonly now?: () => number;
}

/** The partition key attribute of every saasctl data table (pooled and silo). */
const PARTITION_KEY = 'PK';
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

interface Judged {
  readonly action: string;
  readonly resource: string;
  readonly leadingKeys: readonly string[];
}

export function guardDynamoDb(inner: RequestListener, options: GuardOptions): RequestListener {
  const now = options.now ?? Date.now;
  return (req, res) => {
    const accessKeyId = /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? '')?.[1];
    if (!accessKeyId?.startsWith('ASIA')) {
      inner(req, res);
      return;
    }
    void (async () => {
      const body = await readBody(req);
      const session = await options.session(accessKeyId);
      if (!session) {
        return refuse(
          res,
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
      }
      {
        if (Date.parse(session.expiration) <= now()) {
          return refuse(
            res,
            'ExpiredTokenException',
            'The security token included in the request is expired',
          );
        }
        if (session.policy !== undefined) {
          const policy = JSON.parse(session.policy) as IamPolicyDocument;
          for (const request of judgedRequests(req, body, options)) {
            const decision = evaluatePolicy(policy, {
              action: request.action,
              resource: request.resource,
              context:
                request.leadingKeys.length > 0 ? { 'dynamodb:LeadingKeys': [...request.leadingKeys] } : {},
            });
            if (decision !== 'Allowed') {
              return refuse(
                res,
                'AccessDeniedException',
                `User: ${session.assumedRoleArn} is not authorized to perform: ${request.action} on resource: ${request.resource} because no session policy allows the ${request.action} action`,
              );
            }
          }
        }
      }
      inner(replay(req, body), res);
    })().catch((err: unknown) => {
      refuse(res, 'InternalServerError', `The local DynamoDB guard failed: ${(err as Error).message}`, 500);
    });
  };
}

/** The IAM requests one DynamoDB call makes: one per table it touches. */
export function judgedRequests(
  req: Pick<IncomingMessage, 'headers'>,
  body: Buffer,
  options: Pick<GuardOptions, 'region' | 'accountId'>,
): Judged[] {
  const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
  let input: Record<string, unknown> = {};
  try {
    input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
  } catch {
    // dynalite answers malformed JSON itself (SerializationException); judge it as naming nothing.
  }
  const arn = (table: unknown, index?: unknown): string =>
    `arn:aws:dynamodb:${options.region}:${options.accountId}:table/${String(table)}${index ? `/index/${String(index)}` : ''}`;
  const action = `dynamodb:${partiqlAction(operation, input) ?? operation}`;
  const keysOf = (...items: unknown[]): string[] =>
    items
      .map((item) => (item as Record<string, { S?: string }> | undefined)?.[PARTITION_KEY]?.S ?? undefined)
      .filter((key): key is string => key !== undefined);
  switch (operation) {
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem':
      return [{ action, resource: arn(input.TableName), leadingKeys: keysOf(input.Key) }];
    case 'PutItem':
      return [{ action, resource: arn(input.TableName), leadingKeys: keysOf(input.Item) }];
    case 'Query':
      return [{ action, resource: arn(input.TableName, input.IndexName), leadingKeys: queryKeys(input) }];
    case 'BatchGetItem':
      return Object.entries((input.RequestItems ?? {}) as Record<string, { Keys?: unknown[] }>).map(
        ([table, request]) => ({
          action,
          resource: arn(table),
          leadingKeys: keysOf(...(request.Keys ?? [])),
        }),
      );
    case 'BatchWriteItem':
      return Object.entries((input.RequestItems ?? {}) as Record<string, WriteRequest[]>).map(
        ([table, requests]) => ({
          action,
          resource: arn(table),
          leadingKeys: keysOf(...requests.map((r) => r.PutRequest?.Item ?? r.DeleteRequest?.Key)),
        }),
      );
    default:
      // Scan, PartiQL, table operations: no leading keys; the table (or '*') is the resource.
      return [
        { action, resource: input.TableName ? arn(input.TableName, input.IndexName) : '*', leadingKeys: [] },
      ];
  }
}

interface WriteRequest {
  readonly PutRequest?: { readonly Item?: unknown };
  readonly DeleteRequest?: { readonly Key?: unknown };
}

/** The partition key value of a Query's key condition (`PK = :v`, or through a name placeholder). */
function queryKeys(input: Record<string, unknown>): string[] {
  const expression = String(input.KeyConditionExpression ?? '');
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, { S?: string }>;
  const found = [];
  for (const match of expression.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const name = match[1]?.startsWith('#') ? names[match[1]] : match[1];
    const value = values[match[2] ?? '']?.S;
    if (name === PARTITION_KEY && value !== undefined) found.push(value);
  }
  return found;
}

/** PartiQL's IAM actions by statement verb (ExecuteStatement and its batch forms). */
function partiqlAction(operation: string, input: Record<string, unknown>): string | undefined {
  if (
    operation !== 'ExecuteStatement' &&
    operation !== 'BatchExecuteStatement' &&
    operation !== 'ExecuteTransaction'
  ) {
    return undefined;
  }
  const verb = /^\s*(\w+)/.exec(String(input.Statement ?? ''))?.[1]?.toLowerCase() ?? 'select';
  return `PartiQL${verb[0]?.toUpperCase()}${verb.slice(1)}`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The request again, its body read: what dynalite's handler listens to. */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const again = Readable.from(body.length > 0 ? [body] : []) as Readable & Partial<IncomingMessage>;
  Object.assign(again, {
    headers: req.headers,
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
  });
  return again as IncomingMessage;
}

function refuse(res: ServerResponse, type: string, message: string, status = 400): void {
  const body = JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message });
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': 'saasctl-local-guard',
  });
  res.end(body);
}
