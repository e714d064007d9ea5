// What a command runs in its own process when no daemon serves its state
// dir: the service, the runners, the guest link, the daemon itself. The
// commands import it only on that path, and the bundle puts it in a file of
// its own (scripts/bundle.mjs), so a client the daemon serves, and --help,
// never load it.
export { DryRunRunner, RealRunner } from './exec/runner.js';
export { confirmedLinkName, interrupted } from './guest-link/exchange.js';
export { configureGuest } from './guest-link/one-shot.js';
export { configureFromHost } from './guest-config/from-host.js';
export { AttachmentService } from './service/attachments.js';
export { processGuest } from './service/preflight.js';
export { tokenIsFirstName } from './model/record.js';
export { attachResult, detachResultFor } from './service/results.js';
export { collectStatus } from './service/status.js';
export { readRecords } from './state/store.js';
export { doctor } from './commands/doctor.js';
export { serve } from './commands/serve.js';
