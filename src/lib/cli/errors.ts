/**
 * One error class for everything saasctl reports. The `code` is stable (scripts match on it),
 * the exit code follows DESIGN.md, and `actions` tell the operator what fixes it.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  drift: 5,
  partial: 6,
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface SaasctlErrorOptions {
  readonly exitCode?: ExitCodeValue;
  readonly actions?: readonly string[];
  readonly cause?: unknown;
  readonly details?: Record<string, unknown>;
}

export class SaasctlError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly actions: readonly string[];
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, options: SaasctlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SaasctlError';
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.actions = options.actions ?? [];
    this.details = options.details;
  }

  toJSON(): SaasctlErrorJson {
    return {
      code: this.code,
      message: this.message,
      exitCode: this.exitCode,
      actions: [...this.actions],
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export interface SaasctlErrorJson {
  code: string;
  message: string;
  exitCode: number;
  actions: string[];
  details?: Record<string, unknown>;
}

/** Bad input: the message names the rule that was broken. Exit 2, nothing written. */
export function usageError(code: string, message: string, actions: readonly string[] = []): SaasctlError {
  return new SaasctlError(code, message, { exitCode: ExitCode.usage, actions });
}

export function notFound(code: string, message: string, actions: readonly string[] = []): SaasctlError {
  return new SaasctlError(code, message, { exitCode: ExitCode.notFound, actions });
}

export function conflict(
  code: string,
  message: string,
  actions: readonly string[] = [],
  details?: Record<string, unknown>,
): SaasctlError {
  return new SaasctlError(code, message, { exitCode: ExitCode.conflict, actions, details });
}

/** The name an AWS SDK v3 error carries (`ConditionalCheckFailedException`, ...). */
export function awsErrorName(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'name' in err && typeof err.name === 'string') return err.name;
  return undefined;
}

export function isAwsError(err: unknown, ...names: string[]): boolean {
  const name = awsErrorName(err);
  return name !== undefined && names.includes(name);
}

/**
 * Turns anything thrown into a SaasctlError: oclif parse errors become usage errors (exit 2),
 * AWS credential and network failures get remediation hints, the rest is a plain failure.
 */
export function toSaasctlError(err: unknown): SaasctlError {
  if (err instanceof SaasctlError) return err;
  if (err instanceof Error) {
    const oclifExit = (err as Error & { oclif?: { exit?: number } }).oclif?.exit;
    if (oclifExit === ExitCode.usage || isParseError(err)) {
      return new SaasctlError('USAGE', err.message, {
        exitCode: ExitCode.usage,
        cause: err,
        actions: ['Run the command with --help to see its flags and arguments.'],
      });
    }
    const name = awsErrorName(err);
    if (name === 'CredentialsProviderError' || name === 'ExpiredTokenException') {
      return new SaasctlError('AWS_CREDENTIALS', `AWS credentials are missing or expired: ${err.message}`, {
        cause: err,
        actions: ['Set AWS_PROFILE or pass --profile, or refresh your SSO session (aws sso login).'],
      });
    }
    if (name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnauthorizedOperation') {
      return new SaasctlError('AWS_ACCESS_DENIED', err.message, {
        cause: err,
        actions: ['Check that your role has the saasctl operator permissions for this stage.'],
      });
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') {
      return new SaasctlError('CONNECTION_REFUSED', err.message, {
        cause: err,
        actions: ['If you target the local stack, check it with `saasctl local status`.'],
      });
    }
    return new SaasctlError(name && name !== 'Error' ? name : 'UNEXPECTED', err.message, { cause: err });
  }
  return new SaasctlError('UNEXPECTED', String(err));
}

function isParseError(err: Error): boolean {
  return [
    'CLIParseError',
    'NonExistentFlagsError',
    'RequiredArgsError',
    'UnexpectedArgsError',
    'FailedFlagValidationError',
    'ArgInvalidOptionError',
    'FlagInvalidOptionError',
  ].includes(err.constructor.name);
}
