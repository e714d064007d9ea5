// What the CNI plugin runs in its own process when no daemon serves the
// request's state dir (and for STATUS). main.ts imports it only on that path,
// and the bundle puts it in a file of its own (scripts/bundle.mjs), so a
// request the daemon serves never loads it.
export { RealRunner } from '../exec/runner.js';
export { BASE_TOOLS, requireTools } from '../net/tools.js';
export { AttachmentService } from '../service/attachments.js';
export { add, check, del, gc, status } from './commands.js';
