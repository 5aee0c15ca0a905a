import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import { QUARANTINE_PREFIX, RAW_PREFIX } from '../../src/lib/metering/lake-layout.js';
import type { DataTable } from './data-table.js';
import { acknowledge, nagArn } from './nag.js';
import { grantPlatformRead, platformEnvironment } from './platform-access.js';
import { SaasFunction } from './saas-function.js';
import type { StageSettings } from './settings.js';

/** Firehose's key prefix: `raw/YYYY/MM/DD/HH/` of the arrival hour, in UTC (lake-layout.ts). */
export const LAKE_PREFIX = `${RAW_PREFIX}!{timestamp:yyyy/MM/dd/HH}/`;
/** Records Firehose could not deliver, kept apart from `raw/` so the Glue table never reads them. */
export const LAKE_ERROR_PREFIX = 'firehose-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/';
/** The Glue table's partition: the arrival hour as Firehose writes it. */
export const LAKE_PARTITION_FORMAT = 'yyyy/MM/dd/HH';

export interface MeteringPipelineProps {
  readonly settings: StageSettings;
  readonly usageTable: DataTable;
  /** Server access logs of the lake. */
  readonly accessLogsBucket: s3.IBucket;
  /** The first arrival hour the Glue table projects (`yyyy/MM/dd/HH`). Default 2024/01/01/00. */
  readonly lakeStart?: string;
}

/**
 * Usage events: the Kinesis stream (producers partition by tenant), Firehose to the raw lake
 * (the billing system of record: versioned, KMS, no public access, older objects to cheaper
 * storage), the aggregator Lambda on the stream, and the Glue table and Athena workgroup that
 * `metering reconcile --engine athena` queries.
 */
export class MeteringPipeline extends Construct {
  readonly key: kms.Key;
  readonly stream: kinesis.Stream;
  readonly lakeBucket: s3.Bucket;
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly aggregator: SaasFunction;
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly workgroup: athena.CfnWorkGroup;
  readonly names: { readonly database: string; readonly table: string; readonly workgroup: string };

  constructor(scope: Construct, id: string, props: MeteringPipelineProps) {
    super(scope, id);
    const { settings } = props;
    const { names } = settings;
    this.key = new kms.Key(this, 'Key', {
      description: `saasctl ${settings.stage}: usage stream, raw lake and query results`,
      enableKeyRotation: true,
      removalPolicy: settings.removalPolicy,
    });

    this.stream = new kinesis.Stream(this, 'UsageStream', {
      streamName: names.usageStream,
      streamMode: kinesis.StreamMode.ON_DEMAND,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: this.key,
      retentionPeriod: Duration.days(7),
    });
    acknowledge(
      this.stream,
      'AwsSolutions-KDS3',
      'A customer managed key (rotation on) rather than the AWS managed one: Firehose and the aggregator are granted it explicitly.',
    );

    this.lakeBucket = new s3.Bucket(this, 'RawLake', {
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'raw-lake/',
      // The billing system of record outlives any stack, in every stage.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'raw-to-cheaper-storage',
          prefix: RAW_PREFIX,
          // Both classes serve GetObject and Athena at once: reconcile reads old months unchanged.
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(120) },
          ],
          noncurrentVersionExpiration: Duration.days(90),
        },
        { id: 'quarantine-expires', prefix: QUARANTINE_PREFIX, expiration: Duration.days(400) },
        { id: 'incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });

    this.deliveryStream = this.lakeDelivery(settings);
    this.aggregator = this.aggregatorOnStream(settings, props.usageTable);

    this.names = { database: names.glueDatabase, table: names.glueTable, workgroup: names.athenaWorkgroup };
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: names.glueDatabase, description: `saasctl ${settings.stage}: usage lake` },
    });
    this.table = new glue.CfnTable(this, 'RawEventsTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: names.glueDatabase,
      tableInput: rawEventsTableInput(names.glueTable, this.lakeBucket.bucketName, props.lakeStart),
    });
    this.table.node.addDependency(this.database);
    this.workgroup = this.queryWorkgroup(settings, props.accessLogsBucket);
  }

  /** Firehose: stream -> `raw/YYYY/MM/DD/HH/<name>-<version>-<time>-<uuid>.gz`, one event per line. */
  private lakeDelivery(settings: StageSettings): firehose.CfnDeliveryStream {
    const role = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `saasctl ${settings.stage}: Firehose from the usage stream to the raw lake`,
    });
    this.stream.grantRead(role);
    // Firehose's documented S3 destination permissions, on this bucket only.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
        resources: [this.lakeBucket.bucketArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
        resources: [this.lakeBucket.arnForObjects('*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } },
      }),
    );
    acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::${nagArn(this.lakeBucket)}/*]`,
      'Firehose names each object at delivery (raw/ and firehose-errors/ prefixes): it writes anywhere in the lake bucket.',
    );
    const logGroup = new logs.LogGroup(this, 'DeliveryLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: settings.removalPolicy,
    });
    const logStream = new logs.LogStream(this, 'DeliveryErrors', {
      logGroup,
      removalPolicy: settings.removalPolicy,
    });
    logGroup.grantWrite(role);
    const delivery = new firehose.CfnDeliveryStream(this, 'LakeDelivery', {
      deliveryStreamName: settings.names.lakeDeliveryStream,
      deliveryStreamType: 'KinesisStreamAsSource',
      kinesisStreamSourceConfiguration: { kinesisStreamArn: this.stream.streamArn, roleArn: role.roleArn },
      extendedS3DestinationConfiguration: {
        bucketArn: this.lakeBucket.bucketArn,
        roleArn: role.roleArn,
        prefix: LAKE_PREFIX,
        errorOutputPrefix: LAKE_ERROR_PREFIX,
        compressionFormat: 'GZIP',
        // The reader's arrival arithmetic assumes at most 900 s (FIREHOSE_MAX_BUFFER_MS).
        bufferingHints: { intervalInSeconds: 900, sizeInMBs: 5 },
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: this.key.keyArn } },
        // The emitter sends one JSON object per record, without a newline: the lake is NDJSON.
        processingConfiguration: { enabled: true, processors: [{ type: 'AppendDelimiterToRecord' }] },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: logGroup.logGroupName,
          logStreamName: logStream.logStreamName,
        },
      },
    });
    // Firehose checks its role's permissions when the stream is created.
    delivery.node.addDependency(role);
    acknowledge(
      delivery,
      'AwsSolutions-KDF1',
      "The source is the usage stream, encrypted with this pipeline's KMS key; Firehose refuses " +
        'DeliveryStreamEncryption on a Kinesis-stream source. Delivered objects are SSE-KMS with the same key.',
    );
    return delivery;
  }

  /** The aggregator: counters per tenant, metric and hour, idempotent per batch id. */
  private aggregatorOnStream(settings: StageSettings, usageTable: DataTable): SaasFunction {
    const fn = new SaasFunction(this, 'Aggregator', {
      entry: 'aggregator',
      description: `saasctl ${settings.stage}: usage counters from the usage stream`,
      environment: platformEnvironment(settings),
      removalPolicy: settings.removalPolicy,
      timeout: Duration.minutes(2),
      memorySize: 1024,
    });
    grantPlatformRead(fn, settings);
    usageTable.grantReadWriteData(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.lakeBucket.arnForObjects(`${QUARANTINE_PREFIX}*`)],
      }),
    );
    this.key.grant(fn, 'kms:GenerateDataKey');
    acknowledge(
      fn.role ?? fn,
      `AwsSolutions-IAM5[Resource::${nagArn(this.lakeBucket)}/${QUARANTINE_PREFIX}*]`,
      'Malformed events go to quarantine/YYYY/MM/DD/HH/<uuid>.ndjson.gz: only that prefix, named at write time.',
    );
    const failures = new sqs.Queue(this, 'AggregatorFailures', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      failures,
      'AwsSolutions-SQS3',
      "This queue is itself the failure destination of the aggregator's event source mapping: it holds " +
        'the shard ranges given up on (their records are in the raw lake), for an operator to look at.',
    );
    fn.addEventSource(
      new KinesisEventSource(this.stream, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 1000,
        maxBatchingWindow: Duration.seconds(5),
        // A retried batch must be the same batch (its id makes the counters idempotent):
        // bisecting would apply part of a batch again under a new id.
        bisectBatchOnError: false,
        retryAttempts: 20,
        maxRecordAge: Duration.days(1),
        // What is given up on is still in the raw lake: reconcile --fix repairs the counters.
        onFailure: new SqsDlq(failures),
        parallelizationFactor: 1,
      }),
    );
    return fn;
  }

  /** Athena: results encrypted in their own bucket, the workgroup's settings enforced. */
  private queryWorkgroup(settings: StageSettings, accessLogsBucket: s3.IBucket): athena.CfnWorkGroup {
    const results = new s3.Bucket(this, 'QueryResults', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: 'athena-results/',
      removalPolicy: settings.removalPolicy,
      lifecycleRules: [{ id: 'results-expire', expiration: Duration.days(30) }],
    });
    return new athena.CfnWorkGroup(this, 'Workgroup', {
      name: settings.names.athenaWorkgroup,
      description: `saasctl ${settings.stage}: metering reconcile --engine athena`,
      state: 'ENABLED',
      recursiveDeleteOption: !settings.production,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${results.bucketName}/reconcile/`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: this.key.keyArn },
        },
      },
    });
  }
}

/**
 * The table athena.ts queries: one row per line of `raw/` objects (OpenX JSON SerDe, malformed
 * lines as rows of NULLs), the arrival hour `dt` projected from the key layout, no partitions
 * to register.
 */
export function rawEventsTableInput(
  tableName: string,
  bucketName: string,
  lakeStart = '2024/01/01/00',
): glue.CfnTable.TableInputProperty {
  const location = `s3://${bucketName}/${RAW_PREFIX}`;
  return {
    name: tableName,
    description: 'Raw usage events as Firehose delivered them (gzip NDJSON), by arrival hour',
    tableType: 'EXTERNAL_TABLE',
    partitionKeys: [{ name: 'dt', type: 'string' }],
    parameters: {
      classification: 'json',
      compressionType: 'gzip',
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': LAKE_PARTITION_FORMAT,
      'projection.dt.range': `${lakeStart},NOW`,
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'HOURS',
      'storage.location.template': `${location}\${dt}/`,
    },
    storageDescriptor: {
      location,
      inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      serdeInfo: {
        serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        parameters: { 'ignore.malformed.json': 'true' },
      },
      columns: [
        { name: 'eventid', type: 'string' },
        { name: 'tenantid', type: 'string' },
        { name: 'metric', type: 'string' },
        { name: 'quantity', type: 'double' },
        { name: 'ts', type: 'string' },
      ],
    },
  };
}
