/**
 * The key policy of a tenant's KMS key: the account administers it (so IAM policies apply),
 * the tenant runtime role may use it only with an encryption context naming that tenant, and
 * DynamoDB may use it for the tenant's table on behalf of callers in the account.
 */
export function tenantKeyPolicy(options: {
  readonly accountId: string;
  readonly region: string;
  readonly tenantId: string;
  readonly runtimeRoleArn: string;
}): string {
  const { accountId, region, tenantId, runtimeRoleArn } = options;
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AccountAdministers',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Sid: 'TenantRuntimeUsesWithItsContext',
        Effect: 'Allow',
        Principal: { AWS: runtimeRoleArn },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:tenantId': tenantId } },
      },
      {
        Sid: 'DynamoDBEncryptsTheTenantTable',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:CreateGrant',
          'kms:DescribeKey',
        ],
        Resource: '*',
        Condition: {
          StringEquals: {
            'kms:CallerAccount': accountId,
            'kms:ViaService': `dynamodb.${region}.amazonaws.com`,
          },
        },
      },
    ],
  });
}
