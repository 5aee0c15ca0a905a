import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import type { RunningService } from '../services.js';
import { member, ServiceError, startJsonProtocolServer, type JsonObject } from './json-protocol.js';
import { keyIdOf, open, seal } from './kms-ciphertext.js';
import { loadKmsState, saveKmsState, type KmsState, type StoredKey, type Tag } from './kms-store.js';

export interface KmsEmulatorOptions {
  readonly directory: string;
  readonly region: string;
  readonly accountId: string;
}

const MAX_TAGS = 50;
const DATA_KEY_BYTES = new Map([
  ['AES_256', 32],
  ['AES_128', 16],
]);

/** A KMS (`TrentService`) emulator for symmetric keys, its state in `directory/kms.json`. */
export async function startKmsEmulator(options: KmsEmulatorOptions): Promise<RunningService> {
  await mkdir(options.directory, { recursive: true });
  const file = path.join(options.directory, 'kms.json');
  const state = await loadKmsState(file);
  return startJsonProtocolServer({
    targetPrefix: 'TrentService',
    operations: operations(state, options, () => saveKmsState(file, state)),
  });
}

function operations(state: KmsState, { region, accountId }: KmsEmulatorOptions, save: () => Promise<void>) {
  const arnPrefix = `arn:aws:kms:${region}:${accountId}:`;
  const keyArn = (id: string) => `${arnPrefix}key/${id}`;
  const mutating =
    <T>(handler: (input: JsonObject) => T) =>
    async (input: JsonObject): Promise<T> => {
      const output = handler(input);
      await save();
      return output;
    };

  /** Only the cryptographic operations and DescribeKey take aliases; the rest want a key. */
  function findKey(keyId: string, acceptAlias = false): StoredKey {
    const local = keyId.startsWith(arnPrefix) ? keyId.slice(arnPrefix.length) : keyId;
    if (local.startsWith('alias/')) {
      if (!acceptAlias)
        throw new ServiceError('NotFoundException', `Invalid keyId ${keyId}: use a key ID or key ARN`);
      const alias = state.aliases.get(local);
      if (!alias) throw new ServiceError('NotFoundException', `Alias '${arnPrefix}${local}' is not found.`);
      return findKey(alias.targetKeyId);
    }
    const key = state.keys.get(local === keyId ? keyId : local.replace(/^key\//, ''));
    if (!key) throw new ServiceError('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  const keyIdMember = (input: JsonObject, acceptAlias = false) =>
    findKey(member.string(input, 'KeyId'), acceptAlias);

  function requireEnabled(key: StoredKey): StoredKey {
    if (key.state === 'Disabled')
      throw new ServiceError('DisabledException', `${keyArn(key.id)} is disabled.`);
    requireNotPendingDeletion(key);
    return key;
  }

  function requireNotPendingDeletion(key: StoredKey): StoredKey {
    if (key.state === 'PendingDeletion') {
      throw new ServiceError('KMSInvalidStateException', `${keyArn(key.id)} is pending deletion.`);
    }
    return key;
  }

  const metadata = (key: StoredKey) => ({
    AWSAccountId: accountId,
    KeyId: key.id,
    Arn: keyArn(key.id),
    CreationDate: epochSeconds(key.creationDate),
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.state,
    DeletionDate: key.deletionDate === undefined ? undefined : epochSeconds(key.deletionDate),
    PendingDeletionWindowInDays: key.pendingWindowInDays,
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  });

  const defaultPolicy = () =>
    JSON.stringify({
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });

  return {
    CreateKey: mutating((input) => {
      supportedOnly(input, 'KeyUsage', 'ENCRYPT_DECRYPT');
      supportedOnly(input, 'KeySpec', 'SYMMETRIC_DEFAULT');
      supportedOnly(input, 'CustomerMasterKeySpec', 'SYMMETRIC_DEFAULT');
      supportedOnly(input, 'Origin', 'AWS_KMS');
      const policy = member.optionalString(input, 'Policy') ?? defaultPolicy();
      requireJsonObject(policy);
      const description = member.optionalString(input, 'Description') ?? '';
      if (description.length > 8192) throw new ServiceError('ValidationException', 'Description is too long');
      const key: StoredKey = {
        id: randomUUID(),
        description,
        creationDate: new Date().toISOString(),
        material: randomBytes(32).toString('base64'),
        policy,
        state: 'Enabled',
        tags: withTags([], readTags(member.optionalList(input, 'Tags') ?? [])),
      };
      state.keys.set(key.id, key);
      return { KeyMetadata: metadata(key) };
    }),

    DescribeKey: (input: JsonObject) => ({ KeyMetadata: metadata(keyIdMember(input, true)) }),

    CreateAlias: mutating((input) => {
      const name = member.string(input, 'AliasName');
      if (!/^alias\/[\w/-]{1,250}$/.test(name) || name.startsWith('alias/aws/')) {
        throw new ServiceError(
          'ValidationException',
          `Alias name ${name} must start with alias/, not alias/aws/, followed by letters, digits, /, _ or -`,
        );
      }
      if (state.aliases.has(name)) {
        throw new ServiceError(
          'AlreadyExistsException',
          `An alias with the name ${arnPrefix}${name} already exists`,
        );
      }
      const target = requireNotPendingDeletion(findKey(member.string(input, 'TargetKeyId')));
      state.aliases.set(name, { name, targetKeyId: target.id, creationDate: new Date().toISOString() });
      return {};
    }),

    ListKeys: (input: JsonObject) => {
      const keys = [...state.keys.values()].sort((a, b) => compareStrings(a.id, b.id));
      const limit = member.optionalInteger(input, 'Limit', 1, 1000) ?? 100;
      const { page, nextMarker } = paginate(
        keys,
        (key) => key.id,
        limit,
        member.optionalString(input, 'Marker'),
      );
      return {
        Keys: page.map((key) => ({ KeyId: key.id, KeyArn: `${arnPrefix}key/${key.id}` })),
        NextMarker: nextMarker,
        Truncated: nextMarker !== undefined,
      };
    },

    ListAliases: (input: JsonObject) => {
      const keyId = member.optionalString(input, 'KeyId');
      const targetKeyId = keyId === undefined ? undefined : findKey(keyId).id;
      const aliases = [...state.aliases.values()]
        .filter((alias) => targetKeyId === undefined || alias.targetKeyId === targetKeyId)
        .sort((a, b) => compareStrings(a.name, b.name));
      const limit = member.optionalInteger(input, 'Limit', 1, 100) ?? 50;
      const { page, nextMarker } = paginate(
        aliases,
        (alias) => alias.name,
        limit,
        member.optionalString(input, 'Marker'),
      );
      return {
        Aliases: page.map((alias) => ({
          AliasName: alias.name,
          AliasArn: `${arnPrefix}${alias.name}`,
          TargetKeyId: alias.targetKeyId,
          CreationDate: epochSeconds(alias.creationDate),
          LastUpdatedDate: epochSeconds(alias.creationDate),
        })),
        NextMarker: nextMarker,
        Truncated: nextMarker !== undefined,
      };
    },

    TagResource: mutating((input) => {
      const key = requireNotPendingDeletion(keyIdMember(input));
      key.tags = withTags(key.tags, readTags(member.optionalList(input, 'Tags') ?? []));
      return {};
    }),

    UntagResource: mutating((input) => {
      const key = requireNotPendingDeletion(keyIdMember(input));
      const tagKeys = member.optionalList(input, 'TagKeys');
      if (!tagKeys?.every((tagKey) => typeof tagKey === 'string')) {
        throw new ServiceError('ValidationException', 'TagKeys must be a list of strings');
      }
      key.tags = key.tags.filter((tag) => !tagKeys.includes(tag.TagKey));
      return {};
    }),

    ListResourceTags: (input: JsonObject) => {
      const key = keyIdMember(input);
      const limit = member.optionalInteger(input, 'Limit', 1, 50) ?? 50;
      const { page, nextMarker } = paginate(
        key.tags,
        (tag) => tag.TagKey,
        limit,
        member.optionalString(input, 'Marker'),
      );
      return { Tags: page, NextMarker: nextMarker, Truncated: nextMarker !== undefined };
    },

    EnableKeyRotation: mutating((input) => {
      const key = requireEnabled(keyIdMember(input));
      key.rotationPeriodInDays = member.optionalInteger(input, 'RotationPeriodInDays', 90, 2560) ?? 365;
      return {};
    }),

    DisableKeyRotation: mutating((input) => {
      const key = requireEnabled(keyIdMember(input));
      delete key.rotationPeriodInDays;
      return {};
    }),

    GetKeyRotationStatus: (input: JsonObject) => {
      const key = keyIdMember(input);
      return {
        KeyId: key.id,
        KeyRotationEnabled: key.rotationPeriodInDays !== undefined,
        RotationPeriodInDays: key.rotationPeriodInDays,
      };
    },

    GetKeyPolicy: (input: JsonObject) => {
      const key = keyIdMember(input);
      const policyName = member.optionalString(input, 'PolicyName') ?? 'default';
      if (policyName !== 'default')
        throw new ServiceError('NotFoundException', `No such policy: ${policyName}`);
      return { Policy: key.policy, PolicyName: policyName };
    },

    PutKeyPolicy: mutating((input) => {
      const key = requireNotPendingDeletion(keyIdMember(input));
      const policyName = member.optionalString(input, 'PolicyName') ?? 'default';
      if (policyName !== 'default')
        throw new ServiceError('NotFoundException', `No such policy: ${policyName}`);
      const policy = member.string(input, 'Policy');
      requireJsonObject(policy);
      key.policy = policy;
      return {};
    }),

    DisableKey: mutating((input) => {
      requireNotPendingDeletion(keyIdMember(input)).state = 'Disabled';
      return {};
    }),

    EnableKey: mutating((input) => {
      requireNotPendingDeletion(keyIdMember(input)).state = 'Enabled';
      return {};
    }),

    ScheduleKeyDeletion: mutating((input) => {
      const key = requireNotPendingDeletion(keyIdMember(input));
      const days = member.optionalInteger(input, 'PendingWindowInDays', 7, 30) ?? 30;
      key.state = 'PendingDeletion';
      key.pendingWindowInDays = days;
      key.deletionDate = new Date(Date.now() + days * 86_400_000).toISOString();
      return {
        KeyId: keyArn(key.id),
        DeletionDate: epochSeconds(key.deletionDate),
        KeyState: key.state,
        PendingWindowInDays: days,
      };
    }),

    CancelKeyDeletion: mutating((input) => {
      const key = keyIdMember(input);
      if (key.state !== 'PendingDeletion') {
        throw new ServiceError('KMSInvalidStateException', `${keyArn(key.id)} is not pending deletion.`);
      }
      // AWS leaves a key whose deletion was cancelled disabled, so nothing uses it by surprise.
      key.state = 'Disabled';
      delete key.deletionDate;
      delete key.pendingWindowInDays;
      return { KeyId: keyArn(key.id) };
    }),

    Encrypt: (input: JsonObject) => {
      const key = requireEnabled(keyIdMember(input, true));
      symmetricAlgorithmOnly(input);
      const plaintext = member.optionalBlob(input, 'Plaintext');
      if (!plaintext || plaintext.length < 1 || plaintext.length > 4096) {
        throw new ServiceError('ValidationException', 'Plaintext must be 1 to 4096 bytes');
      }
      const context = member.optionalStringMap(input, 'EncryptionContext');
      return {
        CiphertextBlob: seal(key.id, material(key), plaintext, context).toString('base64'),
        KeyId: keyArn(key.id),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },

    Decrypt: (input: JsonObject) => {
      symmetricAlgorithmOnly(input);
      const blob = member.optionalBlob(input, 'CiphertextBlob');
      if (!blob) throw new ServiceError('ValidationException', 'CiphertextBlob must not be null');
      const blobKeyId = keyIdOf(blob);
      if (blobKeyId === undefined) throw invalidCiphertext();
      const requested = member.optionalString(input, 'KeyId');
      if (requested !== undefined && findKey(requested, true).id !== blobKeyId) {
        throw new ServiceError(
          'IncorrectKeyException',
          'The key ID in the request does not identify the key used to encrypt the ciphertext',
        );
      }
      const key = state.keys.get(blobKeyId);
      if (!key) throw invalidCiphertext();
      requireEnabled(key);
      const plaintext = open(material(key), blob, member.optionalStringMap(input, 'EncryptionContext'));
      if (!plaintext) throw invalidCiphertext();
      return {
        KeyId: keyArn(key.id),
        Plaintext: plaintext.toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },

    GenerateDataKey: (input: JsonObject) => {
      const key = requireEnabled(keyIdMember(input, true));
      const keySpec = member.optionalString(input, 'KeySpec');
      const numberOfBytes = member.optionalInteger(input, 'NumberOfBytes', 1, 1024);
      if ((keySpec === undefined) === (numberOfBytes === undefined)) {
        throw new ServiceError(
          'ValidationException',
          'Specify either KeySpec or NumberOfBytes, but not both',
        );
      }
      const bytes = keySpec === undefined ? numberOfBytes : DATA_KEY_BYTES.get(keySpec);
      if (bytes === undefined)
        throw new ServiceError('ValidationException', `KeySpec ${keySpec} is not valid`);
      const plaintext = randomBytes(bytes);
      const context = member.optionalStringMap(input, 'EncryptionContext');
      return {
        CiphertextBlob: seal(key.id, material(key), plaintext, context).toString('base64'),
        Plaintext: plaintext.toString('base64'),
        KeyId: keyArn(key.id),
      };
    },
  };
}

/** A value AWS accepts but this emulator does not implement is refused, not silently ignored. */
function supportedOnly(input: JsonObject, name: string, supported: string): void {
  const value = member.optionalString(input, name);
  if (value !== undefined && value !== supported) {
    throw new ServiceError(
      'UnsupportedOperationException',
      `The local KMS emulator supports only ${name} ${supported}`,
    );
  }
}

function symmetricAlgorithmOnly(input: JsonObject): void {
  const algorithm = member.optionalString(input, 'EncryptionAlgorithm');
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new ServiceError('InvalidKeyUsageException', `${algorithm} is not valid for a symmetric key`);
  }
}

function requireJsonObject(policy: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(policy);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new ServiceError('MalformedPolicyDocumentException', 'The key policy is not a JSON document');
  }
}

function readTags(list: readonly unknown[]): Tag[] {
  return list.map((tag) => {
    const { TagKey, TagValue } = (tag ?? {}) as Partial<Record<keyof Tag, unknown>>;
    if (
      typeof TagKey !== 'string' ||
      typeof TagValue !== 'string' ||
      TagKey.length < 1 ||
      TagKey.length > 128 ||
      TagValue.length > 256
    ) {
      throw new ServiceError(
        'ValidationException',
        'Each tag needs a TagKey of 1-128 and a TagValue of 0-256 characters',
      );
    }
    if (TagKey.startsWith('aws:'))
      throw new ServiceError('TagException', 'Tag keys starting with aws: are reserved');
    return { TagKey, TagValue };
  });
}

/** New values replace old ones for the same key, as TagResource does. */
function withTags(current: readonly Tag[], added: readonly Tag[]): Tag[] {
  const tags = new Map([...current, ...added].map((tag) => [tag.TagKey, tag]));
  if (tags.size > MAX_TAGS) throw new ServiceError('TagException', `A key can have at most ${MAX_TAGS} tags`);
  return [...tags.values()].sort((a, b) => compareStrings(a.TagKey, b.TagKey));
}

/**
 * One page of `items`, sorted by `keyOf`, after the item the marker names. Markers are opaque, as
 * AWS's are; naming the last item returned (not the next) keeps them valid if that item goes.
 */
function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  limit: number,
  marker: string | undefined,
) {
  let start = 0;
  if (marker !== undefined) {
    const decoded = Buffer.from(marker, 'base64url').toString('utf8');
    if (!decoded.startsWith('after:'))
      throw new ServiceError('InvalidMarkerException', 'The marker is not valid');
    const after = decoded.slice('after:'.length);
    start = items.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + limit);
  const last = page.at(-1);
  const more = start + limit < items.length && last !== undefined;
  return { page, nextMarker: more ? Buffer.from(`after:${keyOf(last)}`).toString('base64url') : undefined };
}

function invalidCiphertext(): ServiceError {
  return new ServiceError(
    'InvalidCiphertextException',
    'The ciphertext is not valid for this key and encryption context',
  );
}

function material(key: StoredKey): Buffer {
  return Buffer.from(key.material, 'base64');
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function epochSeconds(iso: string): number {
  return new Date(iso).getTime() / 1000;
}
