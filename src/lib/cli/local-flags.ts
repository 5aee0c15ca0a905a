import { resolveTarget } from '../platform/target.js';
import type { StackOptions } from '../local/stack.js';

/** The local stack's options from the target flags; `local` commands act on the local target only. */
export function localStackOptions(flags: { stage?: string; region?: string }): StackOptions {
  const target = resolveTarget({ target: 'local', stage: flags.stage, region: flags.region });
  return { home: target.home as string, stage: target.stage, region: target.region };
}
