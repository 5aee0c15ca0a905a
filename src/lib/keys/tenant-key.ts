import type { KMSClient, KeyMetadata } from '@aws-sdk/client-kms';

import { conflict, isAwsError, SaasctlError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';

/** `alias/saasctl/<stage>/tenant/<id>`: the name a tenant's key is found by. */
export function tenantKeyAlias(stage: string, tenantId: string): string {
  return `alias/saasctl/${stage}/tenant/${tenantId}`;
}

export const TENANT_TAG = 'tenantId';
export const STAGE_TAG = 'saasctl:stage';

export interface TenantKeyRequest {
  readonly stage: string;
  readonly tenantId: string;
  readonly tier: string;
  /** The key policy document (JSON): the account root and the tenant runtime role. */
  readonly policy: string;
}

/**
 * Finds the tenant's key by alias, then by tag (a crash between CreateKey and CreateAlias
 * leaves a tagged key without alias: KMS CreateKey has no client token), and creates it only
 * when neither exists. Rotation is turned on either way.
 */
export async function ensureTenantKey(
  kms: KMSClient,
  request: TenantKeyRequest,
): Promise<{ keyArn: string; created: boolean }> {
  const kmsSdk = sdk.kms();
  const alias = tenantKeyAlias(request.stage, request.tenantId);
  const byAlias = await describeKey(kms, alias);
  if (byAlias?.KeyState === 'PendingDeletion') {
    throw conflict(
      'TENANT_KEY_PENDING_DELETION',
      `The key ${alias} of tenant "${request.tenantId}" is pending deletion (the tenant was offboarded).`,
      ['Cancel the deletion (aws kms cancel-key-deletion) and enable the key, or pick another tenant id.'],
    );
  }
  const adoptedByAlias = Boolean(byAlias);
  let key = byAlias ?? (await findTaggedKey(kms, request.stage, request.tenantId));
  const created = !key;
  if (!key) {
    const { KeyMetadata: metadata } = await kms.send(
      new kmsSdk.CreateKeyCommand({
        Description: `saasctl ${request.stage}: data key of tenant ${request.tenantId}`,
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeySpec: 'SYMMETRIC_DEFAULT',
        Policy: request.policy,
        Tags: tenantKeyTags(request),
      }),
    );
    key = metadata;
  }
  if (!key?.KeyId || !key.Arn) throw new SaasctlError('KMS_NO_KEY', `KMS returned no key for ${alias}.`);
  if (!created && !adoptedByAlias) {
    // A key found by its tags alone was left by a crash, or made by someone else: give it the
    // policy and tags a tenant key must have before it becomes the tenant's.
    await kms.send(
      new kmsSdk.PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: request.policy }),
    );
    await kms.send(new kmsSdk.TagResourceCommand({ KeyId: key.KeyId, Tags: tenantKeyTags(request) }));
  }
  if (!adoptedByAlias) {
    try {
      await kms.send(new kmsSdk.CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
    } catch (err) {
      // Another onboarding of this tenant named its key first: that one is the tenant's, and a
      // key this run created would be an orphan, so it is scheduled for deletion (7 days).
      if (!isAwsError(err, 'AlreadyExistsException')) throw err;
      if (created) {
        await kms.send(new kmsSdk.ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      }
      return ensureTenantKey(kms, request);
    }
  }
  const rotation = await kms.send(new kmsSdk.GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
  if (!rotation.KeyRotationEnabled) await kms.send(new kmsSdk.EnableKeyRotationCommand({ KeyId: key.KeyId }));
  return { keyArn: key.Arn, created };
}

function tenantKeyTags(request: TenantKeyRequest): { TagKey: string; TagValue: string }[] {
  return [
    { TagKey: TENANT_TAG, TagValue: request.tenantId },
    { TagKey: 'tier', TagValue: request.tier },
    { TagKey: STAGE_TAG, TagValue: request.stage },
  ];
}

export interface TenantKeyStatus {
  readonly keyArn: string;
  readonly keyId: string;
  readonly alias: string;
  /** KMS's KeyState: Enabled, Disabled, PendingDeletion, ... */
  readonly keyState: string;
  readonly rotationEnabled: boolean;
  readonly deletionDate?: string;
}

export async function tenantKeyStatus(
  kms: KMSClient,
  stage: string,
  tenantId: string,
): Promise<TenantKeyStatus> {
  const alias = tenantKeyAlias(stage, tenantId);
  const key = await describeKey(kms, alias);
  if (!key?.KeyId || !key.Arn) {
    throw new SaasctlError('TENANT_KEY_NOT_FOUND', `No KMS key with alias ${alias}.`, { exitCode: 3 });
  }
  const rotation =
    key.KeyState === 'PendingDeletion'
      ? { KeyRotationEnabled: false }
      : await kms.send(new (sdk.kms().GetKeyRotationStatusCommand)({ KeyId: key.KeyId }));
  return {
    keyArn: key.Arn,
    keyId: key.KeyId,
    alias,
    keyState: String(key.KeyState),
    rotationEnabled: Boolean(rotation.KeyRotationEnabled),
    ...(key.DeletionDate ? { deletionDate: key.DeletionDate.toISOString() } : {}),
  };
}

/**
 * Schedules the tenant key's deletion (KMS allows 7 to 30 days); already pending or already
 * gone is success. Returns the deletion date, when there is one.
 */
export async function scheduleTenantKeyDeletion(
  kms: KMSClient,
  stage: string,
  tenantId: string,
  days: number,
): Promise<{ changed: boolean; deletionDate?: string }> {
  const key = await describeKey(kms, tenantKeyAlias(stage, tenantId));
  if (!key?.KeyId) return { changed: false };
  if (key.KeyState === 'PendingDeletion') {
    return { changed: false, ...(key.DeletionDate ? { deletionDate: key.DeletionDate.toISOString() } : {}) };
  }
  const { DeletionDate } = await kms.send(
    new (sdk.kms().ScheduleKeyDeletionCommand)({ KeyId: key.KeyId, PendingWindowInDays: days }),
  );
  return { changed: true, ...(DeletionDate ? { deletionDate: DeletionDate.toISOString() } : {}) };
}

export interface KillSwitchResult extends TenantKeyStatus {
  readonly changed: boolean;
  /** The proof: what KMS answered a GenerateDataKey with this key after the change. */
  readonly probe: { readonly generateDataKey: 'refused' | 'allowed'; readonly error?: string };
}

/**
 * The per-tenant kill switch. Disables (or enables) the tenant's key, then proves the effect
 * with a GenerateDataKey probe: after disable it must fail with DisabledException.
 */
export async function setTenantKeyEnabled(
  kms: KMSClient,
  stage: string,
  tenantId: string,
  enabled: boolean,
): Promise<KillSwitchResult> {
  const kmsSdk = sdk.kms();
  const before = await tenantKeyStatus(kms, stage, tenantId);
  if (before.keyState === 'PendingDeletion') {
    throw conflict('TENANT_KEY_PENDING_DELETION', `The key of tenant "${tenantId}" is pending deletion.`, [
      'Cancel the deletion first (aws kms cancel-key-deletion), if the tenant is coming back.',
    ]);
  }
  const wanted = enabled ? 'Enabled' : 'Disabled';
  const changed = before.keyState !== wanted;
  if (changed) {
    await kms.send(
      enabled
        ? new kmsSdk.EnableKeyCommand({ KeyId: before.keyId })
        : new kmsSdk.DisableKeyCommand({ KeyId: before.keyId }),
    );
  }
  const probe = await probeKey(kms, before.keyId, tenantId);
  const expected = enabled ? 'allowed' : 'refused';
  if (probe.generateDataKey !== expected) {
    throw new SaasctlError(
      'KILL_SWITCH_NOT_EFFECTIVE',
      `The key of tenant "${tenantId}" was ${enabled ? 'enabled' : 'disabled'}, but GenerateDataKey is still ${probe.generateDataKey}${probe.error ? ` (${probe.error})` : ''}.`,
      { actions: ['KMS is eventually consistent for a few seconds: run `saasctl key status` again.'] },
    );
  }
  return { ...(await tenantKeyStatus(kms, stage, tenantId)), changed, probe };
}

async function probeKey(kms: KMSClient, keyId: string, tenantId: string): Promise<KillSwitchResult['probe']> {
  try {
    const { Plaintext } = await kms.send(
      new (sdk.kms().GenerateDataKeyCommand)({
        KeyId: keyId,
        KeySpec: 'AES_256',
        EncryptionContext: { tenantId, purpose: 'saasctl-kill-switch-probe' },
      }),
    );
    Plaintext?.fill(0);
    return { generateDataKey: 'allowed' };
  } catch (err) {
    if (isAwsError(err, 'DisabledException', 'KMSInvalidStateException')) {
      return { generateDataKey: 'refused', error: (err as Error).name };
    }
    throw err;
  }
}

async function describeKey(kms: KMSClient, keyId: string): Promise<KeyMetadata | undefined> {
  try {
    return (await kms.send(new (sdk.kms().DescribeKeyCommand)({ KeyId: keyId }))).KeyMetadata;
  } catch (err) {
    if (isAwsError(err, 'NotFoundException')) return undefined;
    throw err;
  }
}

async function findTaggedKey(
  kms: KMSClient,
  stage: string,
  tenantId: string,
): Promise<KeyMetadata | undefined> {
  const kmsSdk = sdk.kms();
  let marker: string | undefined;
  do {
    const page = await kms.send(new kmsSdk.ListKeysCommand({ Limit: 100, Marker: marker }));
    for (const { KeyId } of page.Keys ?? []) {
      if (!KeyId) continue;
      const { Tags } = await kms.send(new kmsSdk.ListResourceTagsCommand({ KeyId }));
      const tags = new Map((Tags ?? []).map((t) => [t.TagKey, t.TagValue]));
      if (tags.get(TENANT_TAG) !== tenantId || tags.get(STAGE_TAG) !== stage) continue;
      const key = await describeKey(kms, KeyId);
      if (key && key.KeyState !== 'PendingDeletion') return key;
    }
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return undefined;
}
