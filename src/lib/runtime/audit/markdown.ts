import type {
  AuditCheck,
  IsolationAuditResult,
  PooledKeysDetails,
  PostgresDetails,
  SessionPolicyDetails,
  SiloKeysDetails,
  TierPolicyEvidence,
} from './types.js';

/**
 * The audit as a security reviewer reads it: a summary table, then each check with its
 * evidence and findings. A pure function of the result (the command prints it).
 */
export function renderIsolationMarkdown(result: IsolationAuditResult): string {
  const [pooled, postgres, policies, keys] = result.checks;
  const failed = result.summary.fail;
  const lines = [
    '# Tenant isolation audit',
    '',
    `- Target: ${result.target}, stage \`${result.stage}\`, region \`${result.region}\``,
    `- Scope: ${result.tenantId ? `tenant \`${result.tenantId}\` (and every tier's policy)` : 'every tenant'}`,
    `- Run: ${result.startedAt}, ${(result.elapsedMs / 1000).toFixed(1)} s`,
    `- Result: ${result.passed ? '**PASS**' : `**FAIL** (${failed} check${failed === 1 ? '' : 's'} failed)`}`,
    '',
    '## Summary',
    '',
    table(
      ['#', 'Check', 'Status', 'Findings', 'Evidence'],
      result.checks.map((c, i) => [
        String(i + 1),
        c.title,
        c.status.toUpperCase(),
        c.status === 'skip' ? '-' : String(c.findings.length),
        evidenceSummary(c),
      ]),
    ),
    '',
    section(1, pooled, pooledEvidence),
    section(2, postgres, postgresEvidence),
    section(3, policies, policyEvidence),
    section(4, keys, keyEvidence),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}

/** One line of evidence per check, for the summary table and the human output. */
export function evidenceSummary(check: AuditCheck<unknown>): string {
  if (!check.details) return 'not run';
  switch (check.id) {
    case 'pooled-keys': {
      const d = check.details as PooledKeysDetails;
      return `${d.method} of ${d.table}: ${d.items} items, ${d.partitions} partitions, ${d.offending} offending`;
    }
    case 'postgres-rls': {
      const d = check.details as PostgresDetails;
      return `${d.tables.length} tables, ${d.views.length} views, ${d.securityDefinerFunctions.length} SECURITY DEFINER functions in ${d.schema}`;
    }
    case 'session-policies': {
      const d = check.details as SessionPolicyDetails;
      const cross = d.policies.reduce((n, p) => n + p.crossTenant.total, 0);
      const denied = d.policies.reduce((n, p) => n + p.crossTenant.asExpected, 0);
      const largest = Math.max(0, ...d.policies.map((p) => p.characters));
      return `${d.policies.length} policies, ${denied}/${cross} cross-tenant requests denied, largest ${largest} chars`;
    }
    case 'silo-keys': {
      const d = check.details as SiloKeysDetails;
      const ok = d.keys.filter((k) => k.verdict !== 'fail').length;
      return `${ok}/${d.keys.length} silo tenants' keys as expected`;
    }
  }
}

function section<D>(n: number, check: AuditCheck<D>, evidence: (details: D) => string[]): string {
  const lines = [`## ${n}. ${check.title}`, '', `Status: **${check.status.toUpperCase()}**`, ''];
  if (check.details) lines.push(...evidence(check.details), '');
  if (check.findings.length > 0) {
    lines.push(check.status === 'skip' ? '### Why it was skipped' : '### Findings', '');
    for (const f of check.findings) lines.push(`- ${f.subject ? `\`${f.subject}\`: ` : ''}${f.message}`);
    lines.push('');
  }
  return lines.join('\n');
}

function pooledEvidence(d: PooledKeysDetails): string[] {
  return [
    d.method === 'scan'
      ? `Scanned every item of \`${d.table}\` (keys only): ${d.items} items in ${d.partitions} partitions.`
      : `Queried the tenant's partition of \`${d.table}\` (keys only): ${d.items} items. Shards are covered by the full scan (without --tenant).`,
    '',
    table(
      ['Problem', 'Keys'],
      Object.entries(d.byProblem).map(([problem, count]) => [problem, String(count)]),
    ),
    ...(d.firstOffending.length > 0
      ? [
          '',
          'First offending keys:',
          '',
          table(
            ['PK', 'SK', 'Problem'],
            d.firstOffending.map((k) => [String(k.PK), String(k.SK), k.problem]),
          ),
        ]
      : []),
  ];
}

function postgresEvidence(d: PostgresDetails): string[] {
  const role = d.role
    ? `superuser ${yes(d.role.superuser)}, BYPASSRLS ${yes(d.role.bypassRls)}, owns ${d.role.owns.length ? d.role.owns.join(', ') : 'nothing'}`
    : 'missing';
  return [
    `PostgreSQL ${d.serverVersion}, schema \`${d.schema}\`, app role \`${d.appRole}\`: ${role}.`,
    '',
    table(
      ['Table', 'Owner', 'tenant_id', 'RLS enabled', 'RLS forced', 'Policies'],
      d.tables.map((t) => [
        `${d.schema}.${t.name}`,
        t.owner,
        yes(t.hasTenantId),
        yes(t.rlsEnabled),
        yes(t.rlsForced),
        String(t.policies),
      ]),
    ),
    '',
    d.views.length === 0
      ? 'Views: none.'
      : table(
          ['View', 'Kind', 'security_invoker'],
          d.views.map((v) => [`${d.schema}.${v.name}`, v.kind, yes(v.securityInvoker)]),
        ),
    '',
    `SECURITY DEFINER functions: ${d.securityDefinerFunctions.length ? d.securityDefinerFunctions.join(', ') : 'none'}.`,
  ];
}

function policyEvidence(d: SessionPolicyDetails): string[] {
  const lines = [
    `Evaluator: ${d.evaluator} (Allow/Deny, Action, Resource, the conditions the policies use; explicit deny wins).`,
    'Each policy is built for tenants whose ids are prefixes of each other, then every item, object and key',
    "request on another tenant's partitions, shards, objects and key must be denied; the tenant's own allowed;",
    'Scan, PartiQL, indexes and keyless requests denied.',
    '',
    table(
      ['Policy', 'Isolation', 'Size', 'Cross-tenant denied', 'Own allowed', 'Forbidden denied'],
      d.policies.map((p) => [
        policyName(p),
        p.isolation,
        `${p.characters} / ${p.budget}`,
        ratio(p.crossTenant),
        ratio(p.own),
        ratio(p.forbidden),
      ]),
    ),
  ];
  for (const p of d.policies) {
    lines.push(
      '',
      `### ${policyName(p)}`,
      '',
      `Holders: ${p.holders.map((h) => `\`${h}\``).join(', ')}. Size ${p.characters} characters (compact), budget ${p.budget} (half of STS's ${p.limit}).`,
    );
    if (p.error) lines.push('', `Could not be judged: ${p.error}`);
    lines.push('', '```json', JSON.stringify(p.policy, null, 2), '```');
  }
  return lines;
}

function keyEvidence(d: SiloKeysDetails): string[] {
  return [
    table(
      ['Tenant', 'Status', 'Region', 'Key state', 'Rotation', 'Verdict', 'Note'],
      d.keys.map((k) => [
        k.tenantId,
        k.status,
        k.region,
        k.keyState ?? '-',
        k.rotationEnabled === undefined ? '-' : k.rotationEnabled ? 'on' : 'off',
        k.verdict,
        k.note ?? '',
      ]),
    ),
  ];
}

function policyName(p: TierPolicyEvidence): string {
  return p.subject === 'tenant' ? `Tenant \`${p.holders[0]}\` (tier ${p.tier})` : `Tier \`${p.tier}\``;
}

function ratio(o: { total: number; asExpected: number }): string {
  return `${o.asExpected}/${o.total}`;
}

function yes(value: boolean): string {
  return value ? 'yes' : 'no';
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}
