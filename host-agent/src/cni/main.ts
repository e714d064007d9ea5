// The CNI plugin "guestnet" (CNI 0.4.0, 1.0.0 and 1.1.0): ADD, CHECK, DEL, GC, STATUS and VERSION
// (and `guestnet --version` for people),
// driven by a container runtime through CNI_* variables and a network config
// on stdin. It shares the state dir, its lock, leases and firewall code with
// host-agent. Results and errors are the spec's JSON on stdout.
import { readSync } from 'node:fs';
import { describeError } from '@guestnet/protocol';
import { writeOut } from '@guestnet/runtime';
import { callDaemon, type CniCommand, replyWithin } from '../daemon/control.js';
import { requireRoot } from '../service/preflight.js';
import {
  attachmentOf,
  CniError,
  LATEST_VERSION,
  networkOf,
  parseConfig,
  parseRequest,
  parseStatus,
  replyVersion,
  stateDirOf,
  SUPPORTED_VERSIONS,
  validAttachments,
} from './request.js';

// A network config is small; a runtime never sends more, anything else is refused unread.
const MAX_STDIN = 1024 * 1024;
const STDIN_CHUNK = 64 * 1024;

/**
 * Reads stdin to its end. A runtime's pipe blocks, and is read here with
 * plain reads: process.stdin on a pipe is a socket with its streams, which
 * costs each plugin run more than the config it reads. A stdin that would
 * block (a non-blocking pipe a parent shares) is read through the stream.
 */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const take = (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_STDIN) throw new CniError(6, `the network configuration is over ${MAX_STDIN} bytes`);
    chunks.push(chunk);
  };
  const text = () => Buffer.concat(chunks).toString('utf8');
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(STDIN_CHUNK);
      const read = readSync(0, chunk);
      if (read === 0) return text();
      take(chunk.subarray(0, read));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
  }
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) take(chunk);
  return text();
}

const COMMANDS = ['ADD', 'CHECK', 'DEL', 'GC', 'STATUS', 'VERSION'];

/** The release this plugin belongs to, for `guestnet --version`. */
const GUESTNET_VERSION = '0.1.0';

/** The version replies are in: the request's, once its config is read. */
let replyIn = LATEST_VERSION;

/** The config as far as it parses: VERSION and DEL answer whatever it holds. */
function lenient(text: string): Record<string, unknown> | undefined {
  try {
    return parseConfig(text);
  } catch {
    return undefined;
  }
}

async function main(): Promise<object | undefined> {
  const { env } = process;
  const command = env.CNI_COMMAND;
  // Refused before stdin is read: run by hand without a runtime, nothing waits for input.
  if (!command || !COMMANDS.includes(command)) throw new CniError(4, `CNI_COMMAND '${command ?? ''}' is not one of ${COMMANDS.join(', ')}`);
  // The record ADD wrote is what DEL goes by: a config that changed since, or even one that cannot be read, must not leak the attachment.
  const text = await readStdin().catch((error: unknown) => (command === 'DEL' ? '' : Promise.reject(error)));
  replyIn = replyVersion(lenient(text));
  if (command === 'VERSION') return { cniVersion: replyIn, supportedVersions: SUPPORTED_VERSIONS };
  requireRoot(`CNI ${command}`);
  // Where a daemon serves the state dir, it does the work: this process loads no more than it takes to ask.
  if (command !== 'STATUS') {
    const viaDaemon = await handOver(command as CniCommand, text, env);
    if (viaDaemon.served) return (viaDaemon.result as object | null) ?? undefined;
  }
  const { RealRunner, BASE_TOOLS, requireTools, AttachmentService, add, check, del, gc, status } = await import('./engine.js');
  const runner = new RealRunner();
  if (command === 'DEL') {
    const attachment = attachmentOf(env);
    await requireTools(BASE_TOOLS);
    await del(attachment, new AttachmentService(stateDirOf(env), runner));
    return undefined;
  }
  const config = parseConfig(text);
  if (command === 'GC') {
    const valid = validAttachments(config);
    await requireTools(BASE_TOOLS);
    await gc(networkOf(config), valid, new AttachmentService(stateDirOf(env), runner));
    return undefined;
  }
  if (command === 'STATUS') return void (await status(parseStatus(config, env), runner));
  const request = parseRequest(command as 'ADD' | 'CHECK', env, config);
  await requireTools(BASE_TOOLS);
  if (command === 'ADD') return add(request, runner);
  await check(request, runner);
  return undefined;
}

/** Asks the daemon of the request's state dir to carry it out: `served` false when none listens. */
function handOver(command: CniCommand, text: string, env: NodeJS.ProcessEnv) {
  const handed = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => /^(?:CNI|GUESTNET)_/.test(e[0]) && e[1] !== undefined),
  );
  // DEL and GC go by the state dir of the environment, as they do here; ADD and CHECK by their request's.
  const settings = command === 'ADD' || command === 'CHECK' ? parseRequest(command, env, parseConfig(text)).settings : undefined;
  const stateDir = settings?.stateDir ?? stateDirOf(env);
  const within = replyWithin(settings?.commandTimeout ?? 10_000);
  return callDaemon(stateDir, { type: 'cni', command, env: handed, config: text }, within);
}

if (process.argv[2] === '--version') writeOut(`guestnet ${GUESTNET_VERSION} (CNI plugin; CNI ${SUPPORTED_VERSIONS.join(', ')})\n`);
else
  main().then(
    (result) => {
      if (result) writeOut(`${JSON.stringify(result)}\n`);
    },
    (error: unknown) => {
      const { exitCode, message } = describeError(error);
      // Spec codes where one fits; otherwise 100 + our exit code, which names the cause.
      const code = error instanceof CniError ? error.cniCode : 100 + exitCode;
      writeOut(`${JSON.stringify({ cniVersion: replyIn, code, msg: message })}\n`);
      process.exitCode = 1;
    },
  );
