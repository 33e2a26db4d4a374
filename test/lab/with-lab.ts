// withLab(t, opts, fn): build a lab for one test, run it, keep every log under
// test-artifacts/lab/<test name>/ when it fails, and always tear down.
import type { TestContext } from 'node:test';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabOptions } from './lab.js';
import { labUnavailableReason } from './preflight.js';
import { repoRoot } from './versions.js';

export function artifactDirFor(testName: string, root = repoRoot()): string {
  const safe = testName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 100) || 'unnamed';
  return join(root, 'test-artifacts', 'lab', safe);
}

/**
 * Skips the test with a loud message when the lab cannot run here (not root, not Linux) —
 * except under CI=true, where the lab MUST run: there it fails instead. Returns true if skipped.
 */
export function skipUnlessLab(t: TestContext): boolean {
  const why = labUnavailableReason();
  if (!why) return false;
  if (process.env.CI === 'true') throw new Error(`lab test cannot run under CI=true: ${why}`);
  process.stderr.write(`\n!!! SKIPPING lab test "${t.name}": ${why}\n\n`);
  t.skip(why);
  return true;
}

export async function withLab<T>(t: TestContext, opts: LabOptions, fn: (lab: Lab) => Promise<T>): Promise<T | undefined> {
  if (skipUnlessLab(t)) return undefined;
  const lab = await Lab.create({ name: t.fullName ?? t.name, ...opts });
  try {
    return await fn(lab);
  } catch (e) {
    const dest = artifactDirFor(t.fullName ?? t.name);
    rmSync(dest, { recursive: true, force: true }); // only this run's logs
    const files = lab.collectLogs(dest);
    process.stderr.write(`lab: test failed; ${files.length} log files kept in ${dest}\n`);
    throw e;
  } finally {
    await lab.teardown();
  }
}
