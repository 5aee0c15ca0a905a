import { Duration } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

import type { DataTable } from './data-table.js';
import { acknowledge } from './nag.js';
import { grantPlatformRead, platformEnvironment } from './platform-access.js';
import { SaasFunction } from './saas-function.js';
import type { StageSettings } from './settings.js';

export interface TenantIdentityProps {
  readonly settings: StageSettings;
  /** The pre-token trigger reads tenants (tier, status) from it. */
  readonly controlPlaneTable: DataTable;
}

/** The custom attributes the tenant claims come from: written by operators (admin APIs) only. */
export const TENANT_ATTRIBUTES = ['tenantId', 'tier'] as const;

/**
 * The user pool: sign-in by email, no self sign-up (operators create users through onboarding),
 * custom `tenantId` and `tier` attributes that the app client may read but never write, and the
 * pre-token-generation trigger (V2_0, so access tokens carry the tenant claims too; V2 needs the
 * Essentials feature plan). MFA (TOTP) is required in production stages, optional elsewhere.
 */
export class TenantIdentity extends Construct {
  readonly userPool: cognito.UserPool;
  readonly appClient: cognito.UserPoolClient;
  readonly preTokenFunction: SaasFunction;

  constructor(scope: Construct, id: string, props: TenantIdentityProps) {
    super(scope, id);
    const { settings } = props;
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: settings.names.userPool,
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      signInAliases: { email: true },
      autoVerify: { email: true },
      selfSignUpEnabled: false,
      standardAttributes: { email: { required: true, mutable: true }, fullname: { mutable: true } },
      customAttributes: {
        tenantId: new cognito.StringAttribute({ minLen: 3, maxLen: 32, mutable: true }),
        tier: new cognito.StringAttribute({ minLen: 1, maxLen: 32, mutable: true }),
      },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: settings.production ? cognito.Mfa.REQUIRED : cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: settings.production,
      removalPolicy: settings.removalPolicy,
    });

    acknowledge(
      this.userPool,
      'AwsSolutions-COG8',
      'Essentials is the plan the V2 pre-token trigger needs; Plus adds threat protection at a per-user ' +
        'price, a commercial decision per deployment (not a property of the platform).',
    );
    if (!settings.production) {
      acknowledge(
        this.userPool,
        'AwsSolutions-COG2',
        'MFA is required in production stages; development stages keep it optional so that test users ' +
          'can sign in from scripts.',
      );
    }

    this.preTokenFunction = new SaasFunction(this, 'PreTokenGeneration', {
      entry: 'pre-token',
      description: `saasctl ${settings.stage}: Cognito pre-token generation (tenant claims)`,
      environment: platformEnvironment(settings),
      removalPolicy: settings.removalPolicy,
      timeout: Duration.seconds(5),
    });
    grantPlatformRead(this.preTokenFunction, settings);
    props.controlPlaneTable.grantReadData(this.preTokenFunction);
    this.userPool.addTrigger(
      cognito.UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG,
      this.preTokenFunction,
      cognito.LambdaVersion.V2_0,
    );

    this.appClient = this.userPool.addClient('AppClient', {
      userPoolClientName: settings.names.appClient,
      generateSecret: false,
      authFlows: { userSrp: true, userPassword: true },
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes: new cognito.ClientAttributes()
        .withStandardAttributes({ email: true, emailVerified: true, fullname: true })
        .withCustomAttributes(...TENANT_ATTRIBUTES),
      // Tenant claims come from server-side writes only: a user who could set custom:tenantId
      // would choose their tenant.
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, fullname: true }),
    });
  }
}
