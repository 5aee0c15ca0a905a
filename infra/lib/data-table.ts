import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, type IConstruct } from 'constructs';

import { acknowledge, nagArn } from './nag.js';
import type { StageSettings } from './settings.js';

export interface DataTableProps {
  readonly tableName: string;
  /** A customer managed key (rotation on): DynamoDB encrypts the table with it. */
  readonly encryptionKey: kms.IKey;
  readonly settings: StageSettings;
  /** Global secondary indexes, each keyed by `<name>pk` / `<name>sk` strings. Default none. */
  readonly indexes?: readonly string[];
}

/**
 * A DynamoDB table of the saasctl layout (string `PK`, `SK`), on demand, encrypted with a
 * customer managed key, point-in-time recovery on; in production stages deletion protection on
 * and RETAIN. The key names are public fields so callers never repeat them as strings.
 */
export class DataTable extends Construct {
  static readonly PARTITION_KEY = 'PK';
  static readonly SORT_KEY = 'SK';
  readonly table: dynamodb.Table;
  readonly tableName: string;
  readonly indexes: readonly string[];

  constructor(scope: Construct, id: string, props: DataTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: DataTable.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: DataTable.SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.settings.production,
      removalPolicy: props.settings.removalPolicy,
    });
    for (const index of props.indexes ?? []) {
      this.table.addGlobalSecondaryIndex({
        indexName: index,
        partitionKey: { name: `${index}pk`, type: dynamodb.AttributeType.STRING },
        sortKey: { name: `${index}sk`, type: dynamodb.AttributeType.STRING },
      });
    }
    this.tableName = props.tableName;
    this.indexes = props.indexes ?? [];
  }

  grantReadData(grantee: iam.IGrantable & IConstruct): void {
    this.table.grantReadData(grantee);
    this.acknowledgeGrant(grantee);
  }

  grantReadWriteData(grantee: iam.IGrantable & IConstruct): void {
    this.table.grantReadWriteData(grantee);
    this.acknowledgeGrant(grantee);
  }

  /** What CDK's table grants hold beyond the table itself: its indexes, and the key's data-key actions. */
  private acknowledgeGrant(grantee: iam.IGrantable & IConstruct): void {
    const role = (grantee as { role?: IConstruct }).role ?? grantee;
    if (this.indexes.length > 0) {
      acknowledge(
        role,
        `AwsSolutions-IAM5[Resource::${nagArn(this.table)}/index/*]`,
        `The indexes of ${this.tableName} (${this.indexes.join(', ')}): the catalog lists tenants and tiers through them.`,
      );
    }
    for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
      acknowledge(
        role,
        `AwsSolutions-IAM5[Action::${action}]`,
        `DynamoDB's use of ${this.tableName}'s customer managed key on the caller's behalf (CDK's table grant).`,
      );
    }
  }
}
