import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';

import type { RunningService } from '../services.js';
import { ServiceError, type JsonObject } from './json-protocol.js';
import {
  startQueryProtocolServer,
  validation,
  type QueryForm,
  type QueryRequestContext,
  type XmlElement,
} from './query-protocol.js';

/**
 * STS: AssumeRole and GetCallerIdentity, on the Query protocol the SDK's STS client speaks.
 * Each session is remembered (role, name, session policy, tags, expiry) in
 * `<directory>/sessions.json`, so the local stack can show what a session was allowed, and
 * GetCallerIdentity with its credentials answers as the assumed role, or ExpiredTokenException
 * once it has expired. Signatures are not verified: the loopback stack has one trusted user.
 */

export interface StsEmulatorOptions {
  readonly directory: string;
  /** The account whose roles are assumed, and whose root answers GetCallerIdentity for long-term keys. */
  readonly accountId: string;
  /** The role's MaxSessionDuration (IAM default: one hour). */
  readonly maxSessionDurationSeconds?: number;
  readonly now?: () => number;
}

/** A session as the emulator remembers it (control operation `DescribeSession`). */
export interface StoredSession {
  readonly accessKeyId: string;
  readonly sessionToken: string;
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly assumedRoleArn: string;
  readonly assumedRoleId: string;
  readonly policy?: string;
  readonly tags: readonly { readonly Key: string; readonly Value: string }[];
  readonly transitiveTagKeys: readonly string[];
  readonly packedPolicySize: number;
  readonly issuedAt: string;
  readonly expiration: string;
  /** Who called AssumeRole (its access key id). */
  readonly assumedBy?: string;
}

// Limits from the STS API reference (AssumeRole).
const VERSION = '2011-06-15';
const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const MIN_DURATION_SECONDS = 900;
const DEFAULT_DURATION_SECONDS = 3600;
const MAX_ROLE_SESSION_SECONDS = 43_200;
const MAX_POLICY_CHARS = 2048;
const MAX_TAGS = 50;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/**
 * AWS does not publish how it packs session policies and tags; this emulator deflates them and
 * counts against this budget, so that a policy near the 2,048-character limit reads near 100%.
 */
const PACKED_BUDGET_BYTES = 1024;
/** Expired sessions are kept this long, so their keys answer ExpiredTokenException rather than unknown. */
const EXPIRED_RETENTION_MS = 24 * 3_600_000;

interface State {
  readonly version: 1;
  sessions: StoredSession[];
}

export async function startStsEmulator(options: StsEmulatorOptions): Promise<RunningService> {
  const { directory, accountId } = options;
  const maxDuration = options.maxSessionDurationSeconds ?? DEFAULT_DURATION_SECONDS;
  const now = options.now ?? Date.now;
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, 'sessions.json');
  const state = await load(file);
  const byKey = new Map(state.sessions.map((s) => [s.accessKeyId, s]));

  async function save(): Promise<void> {
    const cutoff = now() - EXPIRED_RETENTION_MS;
    state.sessions = [...byKey.values()].filter((s) => Date.parse(s.expiration) > cutoff);
    byKey.clear();
    for (const s of state.sessions) byKey.set(s.accessKeyId, s);
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(state, null, 2));
    await rename(temporary, file);
  }

  async function assumeRole(form: QueryForm, context: QueryRequestContext): Promise<XmlElement> {
    const roleArn = form.required('RoleArn');
    const role = ROLE_ARN.exec(roleArn);
    if (roleArn.length < 20 || roleArn.length > 2048 || !role) {
      throw validation(
        `Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must be a role ARN`,
      );
    }
    const sessionName = form.required('RoleSessionName');
    if (!SESSION_NAME.test(sessionName)) {
      throw validation(
        `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length 2-64`,
      );
    }
    const durationText = form.optional('DurationSeconds');
    const duration = durationText === undefined ? DEFAULT_DURATION_SECONDS : Number(durationText);
    if (
      !Number.isInteger(duration) ||
      duration < MIN_DURATION_SECONDS ||
      duration > MAX_ROLE_SESSION_SECONDS
    ) {
      throw validation(
        `Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_DURATION_SECONDS} and less than or equal to ${MAX_ROLE_SESSION_SECONDS}`,
      );
    }
    if (duration > maxDuration) {
      throw validation(
        `The requested DurationSeconds exceeds the MaxSessionDuration set for this role (${maxDuration}).`,
      );
    }
    const policy = form.optional('Policy');
    if (policy !== undefined) checkPolicy(policy);
    const tags = form.structures('Tags', ['Key', 'Value']).map(checkTag);
    if (tags.length > MAX_TAGS) {
      throw validation(
        `Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAGS}`,
      );
    }
    const seen = new Set<string>();
    for (const tag of tags) {
      const lower = tag.Key.toLowerCase();
      if (seen.has(lower)) {
        throw new ServiceError(
          'InvalidParameterValue',
          `Duplicate tag keys found. Tag keys are case insensitive: ${tag.Key}`,
        );
      }
      seen.add(lower);
    }
    const transitiveTagKeys = form.strings('TransitiveTagKeys');
    const packed = packedPolicySize(policy, tags);
    if (packed > 100) {
      throw new ServiceError(
        'PackedPolicyTooLarge',
        `Packed policy consumes ${packed}% of allotted space, please use smaller policy.`,
      );
    }
    const issued = now();
    const roleId = `AROA${base32(createHash('sha256').update(roleArn).digest()).slice(0, 17)}`;
    const session: StoredSession = {
      accessKeyId: `ASIA${base32(randomBytes(10)).slice(0, 16)}`,
      sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
      roleArn,
      roleSessionName: sessionName,
      assumedRoleArn: `arn:aws:sts::${role[1]}:assumed-role/${role[2]}/${sessionName}`,
      assumedRoleId: `${roleId}:${sessionName}`,
      ...(policy === undefined ? {} : { policy }),
      tags,
      transitiveTagKeys,
      packedPolicySize: packed,
      issuedAt: new Date(issued).toISOString(),
      expiration: new Date(issued + duration * 1000).toISOString(),
      ...(context.accessKeyId ? { assumedBy: context.accessKeyId } : {}),
    };
    byKey.set(session.accessKeyId, session);
    await save();
    return {
      Credentials: {
        AccessKeyId: session.accessKeyId,
        SecretAccessKey: randomBytes(30).toString('base64'),
        SessionToken: session.sessionToken,
        Expiration: new Date(session.expiration),
      },
      AssumedRoleUser: { Arn: session.assumedRoleArn, AssumedRoleId: session.assumedRoleId },
      ...(policy !== undefined || tags.length > 0 ? { PackedPolicySize: packed } : {}),
    };
  }

  function getCallerIdentity(_form: QueryForm, context: QueryRequestContext): XmlElement {
    const session = context.accessKeyId ? byKey.get(context.accessKeyId) : undefined;
    if (!session) {
      if (context.accessKeyId?.startsWith('ASIA')) {
        throw new ServiceError(
          'InvalidClientTokenId',
          'The security token included in the request is invalid.',
          403,
        );
      }
      return { UserId: accountId, Account: accountId, Arn: `arn:aws:iam::${accountId}:root` };
    }
    if (context.sessionToken !== session.sessionToken) {
      throw new ServiceError(
        'InvalidClientTokenId',
        'The security token included in the request is invalid.',
        403,
      );
    }
    if (Date.parse(session.expiration) <= now()) {
      throw new ServiceError('ExpiredToken', 'The security token included in the request is expired', 403);
    }
    return {
      UserId: session.assumedRoleId,
      Account: /::(\d{12}):/.exec(session.assumedRoleArn)?.[1] ?? accountId,
      Arn: session.assumedRoleArn,
    };
  }

  return startQueryProtocolServer({
    version: VERSION,
    xmlNamespace: NAMESPACE,
    actions: { AssumeRole: assumeRole, GetCallerIdentity: getCallerIdentity },
    control: {
      DescribeSession: (input: JsonObject) => {
        const session = byKey.get(String(input.AccessKeyId ?? ''));
        if (!session)
          throw new ServiceError(
            'NoSuchSession',
            `No session with access key ${String(input.AccessKeyId)}`,
            404,
          );
        return { ...session, expired: Date.parse(session.expiration) <= now() };
      },
      ListSessions: () => ({ sessions: [...byKey.values()] }),
    },
  });
}

function checkPolicy(policy: string): void {
  if (policy.length < 1 || policy.length > MAX_POLICY_CHARS) {
    throw validation(
      `Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to ${MAX_POLICY_CHARS}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(policy);
  } catch {
    throw new ServiceError('MalformedPolicyDocument', 'Syntax errors in policy.');
  }
  const statements = (document as { Statement?: unknown } | null)?.Statement;
  if (typeof document !== 'object' || document === null || statements === undefined) {
    throw new ServiceError('MalformedPolicyDocument', 'Policy document should contain a Statement.');
  }
  for (const statement of Array.isArray(statements) ? statements : [statements]) {
    const s = statement as Record<string, unknown> | null;
    if (!s || (s.Effect !== 'Allow' && s.Effect !== 'Deny')) {
      throw new ServiceError('MalformedPolicyDocument', 'Each statement needs an Effect of Allow or Deny.');
    }
    if (s.Principal !== undefined || s.NotPrincipal !== undefined) {
      throw new ServiceError('MalformedPolicyDocument', 'Policy document should not specify a principal.');
    }
    if (s.Action === undefined && s.NotAction === undefined) {
      throw new ServiceError('MalformedPolicyDocument', 'Policy statement must contain actions.');
    }
    if (s.Resource === undefined && s.NotResource === undefined) {
      throw new ServiceError('MalformedPolicyDocument', 'Policy statement must contain resources.');
    }
  }
}

function checkTag(tag: Record<string, string | undefined>): { Key: string; Value: string } {
  const key = tag.Key ?? '';
  const value = tag.Value ?? '';
  if (key.length < 1 || key.length > 128 || !TAG_TEXT.test(key)) {
    throw validation(
      `Value '${key}' at 'tags.member.key' failed to satisfy constraint: Member must have length 1-128 and match [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+`,
    );
  }
  if (value.length > 256 || !TAG_TEXT.test(value)) {
    throw validation(
      `Value '${value}' at 'tags.member.value' failed to satisfy constraint: Member must have length 0-256 and match [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`,
    );
  }
  return { Key: key, Value: value };
}

/** The share (percent, rounded up) of the packed budget the session policy and tags take. */
export function packedPolicySize(
  policy: string | undefined,
  tags: readonly { readonly Key: string; readonly Value: string }[],
): number {
  const packed = [policy ?? '', ...tags.map((t) => `${t.Key}=${t.Value}`)].join('\n');
  if (packed.length === 0) return 0;
  return Math.ceil((deflateRawSync(Buffer.from(packed)).length * 100) / PACKED_BUDGET_BYTES);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes) out += BASE32[byte % 32] + BASE32[(byte >> 3) % 32];
  return out;
}

async function load(file: string): Promise<State> {
  try {
    const state = JSON.parse(await readFile(file, 'utf8')) as State;
    return { version: 1, sessions: state.sessions ?? [] };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, sessions: [] };
    throw err;
  }
}

/**
 * The sessions this emulator vended, as another emulator in the stack looks them up (the local
 * guards of DynamoDB and S3): from its file, read again when it changes, so sessions of an
 * earlier run count too and STS need not be running.
 */
export function storedSessions(
  directory: string,
): (accessKeyId: string) => Promise<StoredSession | undefined> {
  const file = path.join(directory, 'sessions.json');
  let cached: { mtimeMs: number; sessions: Map<string, StoredSession> } | undefined;
  return async (accessKeyId) => {
    const mtimeMs = await stat(file).then(
      (s) => s.mtimeMs,
      () => -1,
    );
    if (mtimeMs < 0) return undefined;
    // A key not seen yet may come from a write within the file's timestamp granularity: read again.
    if (!cached || cached.mtimeMs !== mtimeMs || !cached.sessions.has(accessKeyId)) {
      const state = JSON.parse(await readFile(file, 'utf8')) as { sessions: StoredSession[] };
      cached = { mtimeMs, sessions: new Map(state.sessions.map((s) => [s.accessKeyId, s])) };
    }
    return cached.sessions.get(accessKeyId);
  };
}
