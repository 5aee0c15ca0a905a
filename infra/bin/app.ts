#!/usr/bin/env -S npx tsx
// The saasctl CDK app. `npm run synth` (offline, no AWS account); the CDK toolkit runs it with
// cdk.json's "app". Context: `-c key=value` here, or the toolkit's; see lib/saasctl-app.ts.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { App } from 'aws-cdk-lib';

import { defineStacks } from '../lib/saasctl-app.js';

const infraDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Run directly, the assembly is rebuilt from scratch (no stale stacks from an earlier context).
if (!process.env.CDK_OUTDIR) rmSync(path.join(infraDir, 'cdk.out'), { recursive: true, force: true });

const app = new App({
  context: { stage: 'dev', ...contextArgs(process.argv.slice(2)) },
  // Under the toolkit, CDK_OUTDIR wins; run directly, the assembly goes to infra/cdk.out.
  ...(process.env.CDK_OUTDIR ? {} : { outdir: path.join(infraDir, 'cdk.out') }),
});
defineStacks(app);
app.synth();

/** `-c key=value` pairs (JSON values parsed: `-c 'silo={"tenantId":"acme",...}'`). */
function contextArgs(argv: readonly string[]): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '-c' && argv[i] !== '--context')
      throw new Error(`Unknown argument ${argv[i]}: use -c key=value`);
    const pair = argv[++i] ?? '';
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`Bad context ${pair}: use -c key=value`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    if (/^[[{]/.test(raw)) value = JSON.parse(raw);
    context[pair.slice(0, eq)] = value;
  }
  return context;
}
