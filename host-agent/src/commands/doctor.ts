import { ALL_CHECKS, type Finding } from '../doctor/checks.js';
import { RealRunner } from '../exec/runner.js';
import type { HostSettings } from '../model/settings.js';

/** Runs every check; one that cannot run becomes a warning, never an abort. */
export async function doctor(settings: HostSettings): Promise<Finding[]> {
  const runner = new RealRunner(settings.commandTimeout);
  const results = await Promise.all(
    ALL_CHECKS.map((check) =>
      check(settings, runner).catch((error: Error): Finding[] => [
        { check: check.name, status: 'warn', detail: `could not check: ${error.message}` },
      ]),
    ),
  );
  return results.flat();
}
