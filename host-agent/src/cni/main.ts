// The CNI plugin "guestnet" (CNI 0.4.0, 1.0.0 and 1.1.0): ADD, CHECK, DEL, GC, STATUS and VERSION,
// driven by a container runtime through CNI_* variables and a network config
// on stdin. It shares the state dir, its lock, leases and firewall code with
// host-agent. Results and errors are the spec's JSON on stdout.
import { describeError } from '@guestnet/protocol';
import { writeOut } from '@guestnet/runtime';
import { RealRunner } from '../exec/runner.js';
import { BASE_TOOLS, requireTools } from '../net/tools.js';
import { requireRoot } from '../service/preflight.js';
import { add, check, del, gc, status } from './commands.js';
import {
  attachmentOf,
  CniError,
  parseConfig,
  parseRequest,
  parseSettings,
  stateDirOf,
  SUPPORTED_VERSIONS,
  validAttachments,
} from './request.js';

// A network config is small; a runtime never sends more, anything else is refused unread.
const MAX_STDIN = 1024 * 1024;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN) throw new CniError(6, `the network configuration is over ${MAX_STDIN} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const COMMANDS = ['ADD', 'CHECK', 'DEL', 'GC', 'STATUS', 'VERSION'];

async function main(): Promise<object | undefined> {
  const { env } = process;
  const command = env.CNI_COMMAND;
  if (command === 'VERSION') return { cniVersion: '1.1.0', supportedVersions: SUPPORTED_VERSIONS };
  if (!command || !COMMANDS.includes(command)) throw new CniError(4, `CNI_COMMAND '${command ?? ''}' is not one of ${COMMANDS.join(', ')}`);
  requireRoot(`CNI ${command}`);
  const runner = new RealRunner();
  if (command === 'DEL') {
    // The record ADD wrote is what counts: a config that changed since, or even one that cannot be read, must not leak the attachment.
    const attachment = attachmentOf(env);
    await readStdin().catch(() => '');
    await requireTools(BASE_TOOLS);
    await del(attachment, stateDirOf(env), runner);
    return undefined;
  }
  const config = parseConfig(await readStdin());
  if (command === 'GC') {
    await requireTools(BASE_TOOLS);
    await gc(typeof config.name === 'string' ? config.name : undefined, validAttachments(config), stateDirOf(env), runner);
    return undefined;
  }
  if (command === 'STATUS') return void (await status(parseSettings(config, env), runner));
  const request = parseRequest(command as 'ADD' | 'CHECK', env, config);
  await requireTools(BASE_TOOLS);
  if (command === 'ADD') return add(request, runner);
  await check(request, runner);
  return undefined;
}

main().then(
  (result) => {
    if (result) writeOut(`${JSON.stringify(result)}\n`);
  },
  (error: unknown) => {
    const { exitCode, message } = describeError(error);
    // Spec codes where one fits; otherwise 100 + our exit code, which names the cause.
    const code = error instanceof CniError ? error.cniCode : 100 + exitCode;
    writeOut(`${JSON.stringify({ cniVersion: '1.0.0', code, msg: message })}\n`);
    process.exitCode = 1;
  },
);
