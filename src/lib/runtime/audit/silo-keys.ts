import type { KMSClient } from '@aws-sdk/client-kms';

import { awsErrorName } from '../../cli/errors.js';
import { sdk } from '../../platform/sdk.js';
import type { Tenant } from '../../tenants/model.js';
import { isPooled } from '../../tenants/tiers.js';
import {
  CHECK_TITLES,
  type AuditCheck,
  type Finding,
  type SiloKeyEvidence,
  type SiloKeysDetails,
} from './types.js';

/** The KMS client where a tenant's key lives (its region, and its account on aws). */
export type KmsFor = (tenant: Tenant) => KMSClient;

/** Tenants whose key is on its way out: offboarding schedules its deletion. */
const LEAVING = new Set<Tenant['status']>(['OFFBOARDING', 'DELETED']);

/**
 * Check 4: every silo tenant's own key is enabled and rotates. A SUSPENDED tenant's disabled
 * key is the kill switch doing its job (`key disable`), and an offboarded tenant's key pending
 * deletion is offboarding's: both are reported, not failed. Rotation must be on for every key
 * that is not pending deletion: disabling a key does not turn it off.
 */
export async function auditSiloKeys(
  tenants: readonly Tenant[],
  kmsFor: KmsFor,
): Promise<AuditCheck<SiloKeysDetails>> {
  const kmsSdk = sdk.kms();
  const evidence: SiloKeyEvidence[] = [];
  for (const tenant of tenants) {
    if (isPooled(tenant.isolation)) continue;
    const base = {
      tenantId: tenant.tenantId,
      status: tenant.status,
      region: tenant.region,
      keyArn: tenant.keyArn,
    };
    if (!tenant.keyArn) {
      evidence.push(
        tenant.status === 'PROVISIONING' || LEAVING.has(tenant.status)
          ? { ...base, verdict: 'ok', note: `no key recorded (${tenant.status})` }
          : { ...base, verdict: 'fail', note: 'A silo tenant without a key of its own.' },
      );
      continue;
    }
    const kms = kmsFor(tenant);
    let keyState: string;
    try {
      const { KeyMetadata } = await kms.send(new kmsSdk.DescribeKeyCommand({ KeyId: tenant.keyArn }));
      keyState = String(KeyMetadata?.KeyState);
    } catch (err) {
      if (awsErrorName(err) !== 'NotFoundException') throw err;
      evidence.push(
        LEAVING.has(tenant.status)
          ? { ...base, verdict: 'expected-deleting', note: 'The key is gone (offboarded).' }
          : { ...base, verdict: 'fail', note: 'KMS does not know the recorded key.' },
      );
      continue;
    }
    if (keyState === 'PendingDeletion') {
      evidence.push(
        LEAVING.has(tenant.status)
          ? {
              ...base,
              keyState,
              verdict: 'expected-deleting',
              note: 'Scheduled for deletion by offboarding.',
            }
          : {
              ...base,
              keyState,
              verdict: 'fail',
              note: `The key is pending deletion, but the tenant is ${tenant.status}.`,
            },
      );
      continue;
    }
    const { KeyRotationEnabled } = await kms.send(
      new kmsSdk.GetKeyRotationStatusCommand({ KeyId: tenant.keyArn }),
    );
    const rotationEnabled = KeyRotationEnabled === true;
    const problems: string[] = [];
    let verdict: SiloKeyEvidence['verdict'] = 'ok';
    if (keyState === 'Disabled' && tenant.status === 'SUSPENDED') {
      verdict = 'expected-disabled';
    } else if (keyState === 'Disabled' && LEAVING.has(tenant.status)) {
      verdict = 'expected-deleting';
    } else if (keyState !== 'Enabled') {
      problems.push(`The key is ${keyState}, but the tenant is ${tenant.status}.`);
    }
    if (!rotationEnabled && !LEAVING.has(tenant.status)) problems.push('Automatic key rotation is off.');
    if (problems.length > 0) verdict = 'fail';
    evidence.push({
      ...base,
      keyState,
      rotationEnabled,
      verdict,
      ...(problems.length > 0
        ? { note: problems.join(' ') }
        : verdict === 'expected-disabled'
          ? { note: 'Disabled by the kill switch (tenant suspended).' }
          : {}),
    });
  }
  const findings: Finding[] = evidence
    .filter((e) => e.verdict === 'fail')
    .map((e) => ({
      subject: `tenant ${e.tenantId}${e.keyArn ? ` (${e.keyArn})` : ''}`,
      message: e.note ?? 'failed',
    }));
  return {
    id: 'silo-keys',
    title: CHECK_TITLES['silo-keys'],
    status: evidence.length === 0 ? 'skip' : findings.length === 0 ? 'pass' : 'fail',
    findings: evidence.length === 0 ? [{ message: 'No silo tenant: no key of its own to check.' }] : findings,
    details: { keys: evidence },
  };
}
