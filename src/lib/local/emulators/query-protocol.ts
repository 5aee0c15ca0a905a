import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { RunningService } from '../services.js';
import { startLoopbackServer, type Exclusive } from './loopback.js';
import { CONTROL_PATH_PREFIX, ServiceError, type JsonObject } from './json-protocol.js';

/**
 * The AWS Query protocol (STS, IAM, SQS of old): `POST /` with a form-encoded body naming the
 * `Action` and `Version`, lists as `Name.member.N`, and XML answers: `<ActionResponse><ActionResult>`
 * on success, `<ErrorResponse><Error><Type/><Code/><Message/></Error>` on failure. The SDK
 * finds the exception class by `Code`.
 */

/** A value of an XML answer: text, a nested element, or a list of `<member>` elements. */
export type XmlValue = string | number | boolean | Date | undefined | XmlElement | readonly XmlValue[];
export interface XmlElement {
  readonly [name: string]: XmlValue;
}

/** What a handler gets besides the form: who signed the request. */
export interface QueryRequestContext {
  /** The access key id from the SigV4 Authorization header (not verified: local stack). */
  readonly accessKeyId?: string;
  /** `X-Amz-Security-Token`, sent with temporary credentials. */
  readonly sessionToken?: string;
}

export type QueryHandler = (
  form: QueryForm,
  context: QueryRequestContext,
) => XmlElement | Promise<XmlElement>;
export type QueryControlHandler = (input: JsonObject) => unknown;

export interface QueryProtocolOptions {
  /** The API version the SDK sends, such as `2011-06-15` for STS. */
  readonly version: string;
  /** The XML namespace of answers, such as `https://sts.amazonaws.com/doc/2011-06-15/`. */
  readonly xmlNamespace: string;
  readonly actions: Readonly<Record<string, QueryHandler>>;
  /** Non-AWS operations (inspection, test switches): `POST /_saasctl/<Name>`, JSON in and out. */
  readonly control?: Readonly<Record<string, QueryControlHandler>>;
}

/** Serves a Query-protocol API on an ephemeral loopback port. Handlers run one at a time. */
export async function startQueryProtocolServer(options: QueryProtocolOptions): Promise<RunningService> {
  return startLoopbackServer((exclusive, request, response) => serve(options, exclusive, request, response));
}

async function serve(
  options: QueryProtocolOptions,
  exclusive: Exclusive,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const requestId = randomUUID();
  const url = request.url ?? '/';
  try {
    const body = await readBody(request);
    if (url.startsWith(CONTROL_PATH_PREFIX)) {
      const name = url.slice(CONTROL_PATH_PREFIX.length);
      const handler =
        request.method === 'POST' && options.control && Object.hasOwn(options.control, name)
          ? options.control[name]
          : undefined;
      if (!handler) throw new ServiceError('UnknownOperation', `Unknown control operation ${name}`, 404);
      const input = body.trim() === '' ? {} : (JSON.parse(body) as JsonObject);
      const result = (await exclusive(() => handler(input))) ?? {};
      const json = JSON.stringify(result);
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
      });
      response.end(json);
      return;
    }
    const form = new QueryForm(new URLSearchParams(body));
    const action = form.optional('Action');
    const handler = action && Object.hasOwn(options.actions, action) ? options.actions[action] : undefined;
    if (request.method !== 'POST' || !handler) {
      throw new ServiceError(
        'InvalidAction',
        `Could not find operation ${String(action)} for version ${options.version}`,
      );
    }
    if (form.optional('Version') !== options.version) {
      throw new ServiceError(
        'InvalidParameterValue',
        `Unsupported Version ${String(form.optional('Version'))}`,
      );
    }
    const context = signer(request);
    const result = await exclusive(() => handler(form, context));
    send(
      response,
      200,
      element(`${action}Response`, options.xmlNamespace, {
        [`${action}Result`]: result,
        ResponseMetadata: { RequestId: requestId },
      }),
    );
  } catch (error) {
    const known = error instanceof ServiceError;
    const status = known ? error.statusCode : 500;
    const detail: XmlElement = {
      Type: status >= 500 ? 'Receiver' : 'Sender',
      Code: known ? error.type : 'InternalFailure',
      Message: error instanceof Error ? error.message : String(error),
    };
    if (url.startsWith(CONTROL_PATH_PREFIX)) {
      const json = JSON.stringify({ error: detail });
      response.writeHead(status, { 'content-type': 'application/json' }).end(json);
      return;
    }
    send(
      response,
      status,
      element('ErrorResponse', options.xmlNamespace, { Error: detail, RequestId: requestId }),
    );
  }
}

/** The request's form: `Name=value`, lists as `Name.member.N` (N from 1), structures as `Name.Field`. */
export class QueryForm {
  constructor(private readonly params: URLSearchParams) {}

  optional(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  required(name: string, shape: string = camel(name)): string {
    const value = this.optional(name);
    if (value === undefined) {
      throw validation(`Value null at '${shape}' failed to satisfy constraint: Member must not be null`);
    }
    return value;
  }

  /** The members of a list of structures: `Name.member.1.Key`, ... until a gap. */
  structures(name: string, fields: readonly string[]): Record<string, string | undefined>[] {
    const items: Record<string, string | undefined>[] = [];
    for (let n = 1; ; n++) {
      const prefix = `${name}.member.${n}.`;
      if (!fields.some((f) => this.params.has(prefix + f))) return items;
      items.push(Object.fromEntries(fields.map((f) => [f, this.params.get(prefix + f) ?? undefined])));
    }
  }

  /** A list of strings: `Name.member.1`, ... until a gap. */
  strings(name: string): string[] {
    const items: string[] = [];
    for (let n = 1; this.params.has(`${name}.member.${n}`); n++) {
      items.push(this.params.get(`${name}.member.${n}`) as string);
    }
    return items;
  }
}

/** The error name the Query services give a request member that breaks its model constraint. */
export function validation(detail: string): ServiceError {
  return new ServiceError('ValidationError', `1 validation error detected: ${detail}`);
}

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** The access key of a SigV4-signed request (`Credential=<key>/<date>/...`). */
function signer(request: IncomingMessage): QueryRequestContext {
  const authorization = request.headers.authorization ?? '';
  const accessKeyId = /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
  const token = request.headers['x-amz-security-token'];
  return {
    ...(accessKeyId ? { accessKeyId } : {}),
    ...(typeof token === 'string' ? { sessionToken: token } : {}),
  };
}

function element(name: string, namespace: string, content: XmlElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${name} xmlns="${namespace}">${toXml(content)}</${name}>`;
}

function toXml(value: XmlValue): string {
  if (value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value))
    return value.map((item) => `<member>${toXml(item as XmlValue)}</member>`).join('');
  if (typeof value === 'object') {
    return Object.entries(value as XmlElement)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${toXml(v)}</${k}>`)
      .join('');
  }
  return escapeXml(String(value));
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(response: ServerResponse, status: number, xml: string): void {
  response.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(xml),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(xml);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
