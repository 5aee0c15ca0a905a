import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { ExitCode } from '../../lib/cli/errors.js';
import { auditIsolation, type AuditCheck, type IsolationAuditResult } from '../../lib/runtime/audit/index.js';
import { evidenceSummary, renderIsolationMarkdown } from '../../lib/runtime/audit/markdown.js';

export default class AuditIsolation extends SaasctlCommand {
  static override summary =
    'Audit tenant isolation: pooled keys, PostgreSQL RLS, session policies, silo keys.';
  static override description = [
    'The report an enterprise security review asks for, each check with its evidence:',
    '1. every partition key of the pooled table is TENANT#<id> or TENANT#<id>#<shard> of a tenant in the catalog',
    '   (a keys-only scan; with --tenant, a query of its partition);',
    '2. the pooled PostgreSQL schema: RLS enabled and forced on every table (each with tenant_id), the app role',
    '   neither superuser, BYPASSRLS nor owner, no view without security_invoker, no SECURITY DEFINER function;',
    "3. each tier's session policy (and the tenant's own): under half of STS's limit, and judged request by",
    "   request for tenant ids that are prefixes of each other: another tenant's items, objects and key denied;",
    '4. every silo tenant key is enabled (disabled is expected for a SUSPENDED tenant) and rotates.',
    '',
    'Exit codes: 0 every check passed (or was skipped), 1 a check failed, 2 bad --tenant, 3 unknown tenant.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --format md > isolation-audit.md',
    '<%= config.bin %> <%= command.id %> --tenant acme --json',
  ];
  static override flags = {
    tenant: Flags.string({ description: "Only this tenant's data and key, and its own policy" }),
    format: Flags.string({
      description: 'Print the report as Markdown or JSON instead of tables',
      options: ['md', 'json'],
    }),
  };
  static override localServices = ['dynamodb', 'kms', 'postgres'] as const;

  async run(): Promise<IsolationAuditResult> {
    const { flags } = await this.parse(AuditIsolation);
    const result = await auditIsolation(() => this.platform(flags), {
      tenantId: flags.tenant,
      reporter: this.reporter,
    });
    if (flags.format === 'md') this.log(renderIsolationMarkdown(result).trimEnd());
    else if (flags.format === 'json') this.log(JSON.stringify(result, null, 2));
    else await this.render(result);
    if (!result.passed) process.exitCode = ExitCode.failure;
    return result;
  }

  private async render(result: IsolationAuditResult): Promise<void> {
    await this.logTable<AuditCheck<unknown>>(
      result.checks,
      [
        { header: 'CHECK', get: (c) => c.title },
        { header: 'STATUS', get: (c) => c.status.toUpperCase() },
        { header: 'FINDINGS', get: (c) => (c.status === 'skip' ? '-' : c.findings.length) },
        { header: 'EVIDENCE', get: (c) => evidenceSummary(c) },
      ],
      '',
    );
    for (const check of result.checks) {
      if (check.findings.length === 0) continue;
      this.log('');
      this.log(`${check.title} (${check.status}):`);
      for (const f of check.findings) this.log(`  - ${f.subject ? `${f.subject}: ` : ''}${f.message}`);
    }
    this.log('');
    this.log(
      result.passed
        ? `Isolation audit passed (${result.summary.pass} passed, ${result.summary.skip} skipped).`
        : `Isolation audit FAILED: ${result.summary.fail} of ${result.checks.length} checks failed.`,
    );
  }
}
