import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { RunningService } from '../services.js';
import {
  ServiceError,
  startJsonProtocolServer,
  type JsonObject,
  type OperationHandler,
} from './json-protocol.js';

export interface OrganizationsEmulatorOptions {
  readonly directory: string;
  /** The management account's id. */
  readonly accountId: string;
  /** How many DescribeCreateAccountStatus calls answer IN_PROGRESS before the account exists (default 1), so callers must poll as on AWS. */
  readonly pollsUntilCreated?: number;
}

// Limits from the Organizations API reference (service model shapes and quotas).
const TARGET_PREFIX = 'AWSOrganizationsV20161128';
const MAX_TAGS_PER_RESOURCE = 50;
const MAX_LIST_ACCOUNTS_RESULTS = 20;
// ListTagsForResource takes no MaxResults; a page smaller than the tag quota makes callers follow NextToken.
const TAGS_PAGE_SIZE = 20;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ACCOUNT_NAME_PATTERN = /^[\u0020-\u007E]+$/;
const ROLE_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;
const REQUEST_ID_PATTERN = /^car-[a-z0-9]{8,32}$/;
const TAGGABLE_RESOURCE_PATTERN =
  /^(r-[0-9a-z]{4,32}|\d{12}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|p-[0-9a-zA-Z_]{8,128})$/;
const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

interface Tag {
  readonly Key: string;
  readonly Value: string;
}

interface StoredAccount {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly joinedMethod: 'CREATED' | 'INVITED';
  readonly joinedAt: number;
  tags: Tag[];
}

interface StoredRequest {
  readonly id: string;
  readonly accountName: string;
  readonly email: string;
  readonly roleName: string;
  readonly tags: Tag[];
  readonly requestedAt: number;
  polls: number;
  state: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  accountId?: string;
  completedAt?: number;
  failureReason?: 'EMAIL_ALREADY_EXISTS' | 'INVALID_EMAIL';
}

interface State {
  readonly version: 1;
  readonly organizationId: string;
  readonly managementAccountId: string;
  readonly accounts: StoredAccount[];
  readonly requests: StoredRequest[];
}

function invalidInput(reason: string, message: string): ServiceError {
  return new ServiceError('InvalidInputException', message, 400, { Reason: reason });
}

export async function startOrganizationsEmulator(
  options: OrganizationsEmulatorOptions,
): Promise<RunningService> {
  const { directory, accountId } = options;
  const pollsUntilCreated = options.pollsUntilCreated ?? 1;
  if (!/^\d{12}$/.test(accountId)) throw new Error(`accountId must be 12 digits, got "${accountId}"`);
  if (!Number.isInteger(pollsUntilCreated) || pollsUntilCreated < 0) {
    throw new Error(`pollsUntilCreated must be a non-negative integer, got ${pollsUntilCreated}`);
  }
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, 'organizations.json');
  const loaded = await loadState(file);
  const state = loaded ?? newState(accountId);
  if (state.managementAccountId !== accountId) {
    throw new Error(
      `${file} holds the organization of account ${state.managementAccountId}, not ${accountId}`,
    );
  }

  // Written to a temporary file and renamed, so a crash never leaves half a file. Every handler
  // awaits its save and the server runs handlers one at a time, so writes never overlap (they share
  // the temporary file), land in order, and stop() waits for the last one.
  const save = async (): Promise<void> => {
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(state, null, 2));
    await rename(temp, file);
  };

  // Saved at once so the organization id, and with it every ARN, survives a restart with no writes.
  if (!loaded) await save();
  return startJsonProtocolServer({
    targetPrefix: TARGET_PREFIX,
    operations: organizationsOperations(state, pollsUntilCreated, save),
    // Errors are `{"__type": type, "Message": ..., "Reason": ...}`, which the SDK throws as an
    // exception named `type`.
    messageMember: 'Message',
    internalFailureType: 'ServiceException',
  });
}

async function loadState(file: string): Promise<State | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as State;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function newState(managementAccountId: string): State {
  return {
    version: 1,
    organizationId: `o-${randomBytes(5).toString('hex')}`,
    managementAccountId,
    // The management account is a member like any other: listed, taggable, and its email is taken.
    accounts: [
      {
        id: managementAccountId,
        name: 'management',
        email: `management+${managementAccountId}@example.com`,
        joinedMethod: 'INVITED',
        joinedAt: now(),
        tags: [],
      },
    ],
    requests: [],
  };
}

function organizationsOperations(
  state: State,
  pollsUntilCreated: number,
  save: () => Promise<void>,
): Readonly<Record<string, OperationHandler>> {
  const findAccount = (id: string): StoredAccount | undefined => state.accounts.find((a) => a.id === id);

  const toAccount = (account: StoredAccount): object => ({
    Id: account.id,
    Arn: `arn:aws:organizations::${state.managementAccountId}:account/${state.organizationId}/${account.id}`,
    Email: account.email,
    Name: account.name,
    Status: 'ACTIVE',
    State: 'ACTIVE',
    JoinedMethod: account.joinedMethod,
    JoinedTimestamp: account.joinedAt,
  });

  const toStatus = (request: StoredRequest): object => ({
    Id: request.id,
    AccountName: request.accountName,
    State: request.state,
    RequestedTimestamp: request.requestedAt,
    CompletedTimestamp: request.completedAt,
    AccountId: request.accountId,
    FailureReason: request.failureReason,
  });

  // On AWS creation runs in the background; here it completes on the poll that follows the
  // configured number of IN_PROGRESS answers, and its failures show only in the status.
  const complete = (request: StoredRequest): void => {
    request.completedAt = now();
    const email = request.email.toLowerCase();
    if (state.accounts.some((account) => account.email.toLowerCase() === email)) {
      request.state = 'FAILED';
      request.failureReason = 'EMAIL_ALREADY_EXISTS';
    } else if (!followsEmailRules(request.email)) {
      request.state = 'FAILED';
      request.failureReason = 'INVALID_EMAIL';
    } else {
      const account: StoredAccount = {
        id: newAccountId(state),
        name: request.accountName,
        email: request.email,
        joinedMethod: 'CREATED',
        joinedAt: request.completedAt,
        tags: request.tags,
      };
      state.accounts.push(account);
      request.state = 'SUCCEEDED';
      request.accountId = account.id;
    }
  };

  return {
    async CreateAccount(input) {
      const email = requiredString(input, 'Email');
      checkLength('Email', email, 6, 64);
      checkPattern('Email', email, EMAIL_PATTERN);
      const accountName = requiredString(input, 'AccountName');
      checkLength('AccountName', accountName, 1, 50);
      checkPattern('AccountName', accountName, ACCOUNT_NAME_PATTERN);
      const roleName = optionalString(input, 'RoleName') ?? 'OrganizationAccountAccessRole';
      checkPattern('RoleName', roleName, ROLE_NAME_PATTERN);
      const tags = readTags(input, false) ?? [];
      checkTagCount(tags.length);
      const request: StoredRequest = {
        id: `car-${randomBytes(16).toString('hex')}`,
        accountName,
        email,
        roleName,
        tags,
        requestedAt: now(),
        polls: 0,
        state: 'IN_PROGRESS',
      };
      state.requests.push(request);
      await save();
      return { CreateAccountStatus: toStatus(request) };
    },

    async DescribeCreateAccountStatus(input) {
      const id = requiredString(input, 'CreateAccountRequestId');
      checkPattern('CreateAccountRequestId', id, REQUEST_ID_PATTERN);
      const request = state.requests.find((r) => r.id === id);
      if (!request) {
        throw new ServiceError(
          'CreateAccountStatusNotFoundException',
          `We can't find a create account request with the ID ${id}.`,
        );
      }
      if (request.state === 'IN_PROGRESS') {
        if (request.polls >= pollsUntilCreated) complete(request);
        else request.polls += 1;
        await save();
      }
      return { CreateAccountStatus: toStatus(request) };
    },

    ListAccounts(input) {
      const maxResults = optionalInteger(input, 'MaxResults') ?? MAX_LIST_ACCOUNTS_RESULTS;
      if (maxResults < 1) throw invalidInput('MIN_VALUE_EXCEEDED', 'MaxResults must be at least 1.');
      if (maxResults > MAX_LIST_ACCOUNTS_RESULTS) {
        throw invalidInput('MAX_VALUE_EXCEEDED', `MaxResults must be at most ${MAX_LIST_ACCOUNTS_RESULTS}.`);
      }
      const page = paginate(state.accounts, maxResults, optionalString(input, 'NextToken'));
      return { Accounts: page.items.map(toAccount), NextToken: page.nextToken };
    },

    async TagResource(input) {
      const account = taggableAccount(input);
      const tags = readTags(input, true) ?? [];
      const merged = new Map(account.tags.map((tag) => [tag.Key, tag.Value]));
      for (const tag of tags) merged.set(tag.Key, tag.Value);
      checkTagCount(merged.size);
      account.tags = [...merged].map(([Key, Value]) => ({ Key, Value }));
      await save();
      return {};
    },

    ListTagsForResource(input) {
      const account = taggableAccount(input);
      const page = paginate(account.tags, TAGS_PAGE_SIZE, optionalString(input, 'NextToken'));
      return { Tags: page.items, NextToken: page.nextToken };
    },
  };

  function taggableAccount(input: JsonObject): StoredAccount {
    const id = requiredString(input, 'ResourceId');
    checkPattern('ResourceId', id, TAGGABLE_RESOURCE_PATTERN);
    // Roots, OUs and policies are valid ids on AWS, but none exist in this emulator.
    const account = findAccount(id);
    if (!account) {
      throw new ServiceError(
        'TargetNotFoundException',
        `We can't find a root, OU, account, or policy with the ID ${id}.`,
      );
    }
    return account;
  }
}

function optionalString(input: JsonObject, name: string): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new ServiceError('SerializationException', `${name} must be a string.`);
  }
  return value;
}

function requiredString(input: JsonObject, name: string): string {
  const value = optionalString(input, name);
  if (value === undefined) throw invalidInput('INPUT_REQUIRED', `${name} is required.`);
  return value;
}

function optionalInteger(input: JsonObject, name: string): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value)) {
    throw new ServiceError('SerializationException', `${name} must be an integer.`);
  }
  return value as number;
}

function checkLength(name: string, value: string, min: number, max: number): void {
  if (value.length < min) {
    throw invalidInput('MIN_LENGTH_EXCEEDED', `${name} must be at least ${min} characters long.`);
  }
  if (value.length > max) {
    throw invalidInput('MAX_LENGTH_EXCEEDED', `${name} must be at most ${max} characters long.`);
  }
}

function checkPattern(name: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value)) {
    throw invalidInput(
      'INVALID_PATTERN',
      `You provided a value for ${name} that does not match the required pattern.`,
    );
  }
}

function checkTagCount(count: number): void {
  if (count > MAX_TAGS_PER_RESOURCE) {
    throw new ServiceError(
      'ConstraintViolationException',
      `A resource can have at most ${MAX_TAGS_PER_RESOURCE} tags.`,
      400,
      { Reason: 'MAX_TAG_LIMIT_EXCEEDED' },
    );
  }
}

/** AWS rejects the whole request when any one tag is invalid, before anything is created or changed. */
function readTags(input: JsonObject, required: boolean): Tag[] | undefined {
  const value = input.Tags;
  if (value === undefined || value === null) {
    if (required) throw invalidInput('INPUT_REQUIRED', 'Tags is required.');
    return undefined;
  }
  if (!Array.isArray(value)) throw new ServiceError('SerializationException', 'Tags must be a list.');
  const tags = value.map((item: unknown): Tag => {
    if (typeof item !== 'object' || item === null) {
      throw new ServiceError('SerializationException', 'Each tag must be an object.');
    }
    const tag = item as JsonObject;
    const key = requiredString(tag, 'Key');
    const tagValue = requiredString(tag, 'Value');
    checkLength('Tag key', key, 1, 128);
    checkLength('Tag value', tagValue, 0, 256);
    checkPattern('Tag key', key, TAG_PATTERN);
    checkPattern('Tag value', tagValue, TAG_PATTERN);
    if (key.toLowerCase().startsWith('aws:')) {
      throw invalidInput(
        'INVALID_SYSTEM_TAGS_PARAMETER',
        `Tag keys that begin with aws: are reserved (${key}).`,
      );
    }
    return { Key: key, Value: tagValue };
  });
  if (new Set(tags.map((tag) => tag.Key)).size !== tags.length) {
    throw invalidInput('DUPLICATE_TAG_KEY', 'Tag keys must be unique within a request.');
  }
  return tags;
}

/** The token is the offset of the next item; every list here only grows at its end, so offsets stay valid. */
function paginate<T>(
  items: readonly T[],
  size: number,
  token: string | undefined,
): { items: T[]; nextToken?: string } {
  let start = 0;
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    start = /^\d+$/.test(decoded) ? Number(decoded) : -1;
    if (start < 0 || start > items.length) {
      throw invalidInput('INVALID_NEXT_TOKEN', 'The NextToken is not one this operation returned.');
    }
  }
  const end = start + size;
  return {
    items: items.slice(start, end),
    nextToken: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined,
  };
}

/** The address rules CreateAccount documents beyond its API pattern; AWS reports them as FAILED INVALID_EMAIL. */
function followsEmailRules(email: string): boolean {
  const parts = email.split('@');
  if (parts.length !== 2 || !/^[\x20-\x7E]+$/.test(email)) return false;
  const [local = '', domain = ''] = parts;
  return (
    local.length > 0 &&
    !local.startsWith('.') &&
    !/[\s"'()<>[\]:;,\\|%&]/.test(local) &&
    /^[A-Za-z0-9.-]+$/.test(domain) &&
    domain.includes('.') &&
    !/^[.-]|[.-]$/.test(domain)
  );
}

function newAccountId(state: State): string {
  for (;;) {
    const id = String(randomInt(0, 1e12)).padStart(12, '0');
    if (!state.accounts.some((account) => account.id === id)) return id;
  }
}

/** AWS JSON 1.1 carries timestamps as epoch seconds. */
function now(): number {
  return Date.now() / 1000;
}
