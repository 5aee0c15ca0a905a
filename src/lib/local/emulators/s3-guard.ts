import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

import { evaluatePolicy, type IamPolicyDocument } from '../../runtime/iam-eval.js';
import type { StoredSession } from './sts.js';

/**
 * IAM for s3rver, for tenant sessions only, as `dynamodb-guard.ts` does for dynalite: a request
 * signed with a key the STS emulator vended is judged against the session's policy before
 * s3rver sees it, and refused with S3's AccessDenied (403, XML). The action and resource come
 * from the method and the path-style URL (`/<bucket>/<key>`): GET and HEAD of an object are
 * s3:GetObject, PUT s3:PutObject, DELETE s3:DeleteObject; a bucket-level request is
 * s3:ListBucket (GET) or another bucket action on the bucket. A multi-object delete is judged as
 * s3:DeleteObject on the whole bucket (`<bucket>/*`), as its keys are in the body: tenant
 * sessions delete one object at a time. Long-term keys pass unjudged.
 */

export interface S3GuardOptions {
  readonly session: (accessKeyId: string) => Promise<StoredSession | undefined>;
  /**
   * Told of a session key before its first allowed request reaches s3rver, which refuses keys
   * it does not know (it checks a SigV4 key's existence, not its signature).
   */
  readonly admit?: (accessKeyId: string) => void;
  readonly now?: () => number;
}

export interface JudgedS3Request {
  readonly action: string;
  readonly resource: string;
}

export function guardS3(inner: RequestListener, options: S3GuardOptions): RequestListener {
  const now = options.now ?? Date.now;
  return (req, res) => {
    const accessKeyId = credentialOf(req);
    if (!accessKeyId?.startsWith('ASIA')) {
      inner(req, res);
      return;
    }
    void (async () => {
      const session = await options.session(accessKeyId);
      if (!session)
        return refuse(
          res,
          'InvalidAccessKeyId',
          'The AWS Access Key Id you provided does not exist in our records.',
        );
      if (Date.parse(session.expiration) <= now())
        return refuse(res, 'ExpiredToken', 'The provided token has expired.', 400);
      if (session.policy !== undefined) {
        const request = judgedS3Request(req);
        const decision = evaluatePolicy(JSON.parse(session.policy) as IamPolicyDocument, request);
        if (decision !== 'Allowed') return refuse(res, 'AccessDenied', 'Access Denied');
      }
      options.admit?.(accessKeyId);
      inner(req, res);
    })().catch((err: unknown) =>
      refuse(res, 'InternalError', `The local S3 guard failed: ${(err as Error).message}`, 500),
    );
  };
}

/** The access key of a SigV4 request: its Authorization header, or a presigned URL's X-Amz-Credential. */
function credentialOf(req: Pick<IncomingMessage, 'headers' | 'url'>): string | undefined {
  const header = /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? '')?.[1];
  if (header) return header;
  const query = new URL(req.url ?? '/', 'http://s3.invalid').searchParams.get('X-Amz-Credential');
  return query?.split('/')[0];
}

export function judgedS3Request(req: Pick<IncomingMessage, 'method' | 'url'>): JudgedS3Request {
  const url = new URL(req.url ?? '/', 'http://s3.invalid');
  const [bucket = '', ...rest] = url.pathname.slice(1).split('/');
  const key = rest.map((part) => decodeURIComponent(part)).join('/');
  const method = (req.method ?? 'GET').toUpperCase();
  if (key) {
    const resource = `arn:aws:s3:::${bucket}/${key}`;
    if (method === 'GET' || method === 'HEAD') return { action: 's3:GetObject', resource };
    if (method === 'PUT' || method === 'POST') return { action: 's3:PutObject', resource };
    if (method === 'DELETE') return { action: 's3:DeleteObject', resource };
    return { action: `s3:${method}Object`, resource };
  }
  if (method === 'POST' && url.searchParams.has('delete')) {
    return { action: 's3:DeleteObject', resource: `arn:aws:s3:::${bucket}/*` };
  }
  const bucketActions: Record<string, string> = {
    GET: 's3:ListBucket',
    HEAD: 's3:ListBucket',
    PUT: 's3:CreateBucket',
    DELETE: 's3:DeleteBucket',
  };
  return { action: bucketActions[method] ?? `s3:${method}Bucket`, resource: `arn:aws:s3:::${bucket}` };
}

function refuse(res: ServerResponse, code: string, message: string, status = 403): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>saasctl-local-guard</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
