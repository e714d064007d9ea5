// The CNI plugin "guestnet" (CNI 0.4.0 and 1.0.0): ADD, CHECK, DEL and VERSION,
// driven by a container runtime through CNI_* variables and a network config
// on stdin. It shares the state dir, its lock, leases and firewall code with
// host-agent. Results and errors are the spec's JSON on stdout.
import { describeError } from '@guestnet/protocol';
import { RealRunner } from '../exec/runner.js';
import { BASE_TOOLS, requireTools } from '../net/tools.js';
import { requireRoot } from '../service/preflight.js';
import { add, check, del } from './commands.js';
import { CniError, parseConfig, parseRequest, SUPPORTED_VERSIONS } from './request.js';

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

async function main(): Promise<object | undefined> {
  const command = process.env.CNI_COMMAND;
  if (command === 'VERSION') return { cniVersion: '1.0.0', supportedVersions: SUPPORTED_VERSIONS };
  if (command !== 'ADD' && command !== 'CHECK' && command !== 'DEL') throw new CniError(4, `CNI_COMMAND '${command ?? ''}' is not ADD, CHECK, DEL or VERSION`);
  const request = parseRequest(command, process.env, parseConfig(await readStdin()));
  requireRoot(`CNI ${command}`);
  await requireTools(BASE_TOOLS);
  const runner = new RealRunner();
  if (command === 'ADD') return add(request, runner);
  if (command === 'CHECK') await check(request, runner);
  else await del(request, runner);
  return undefined;
}

main().then(
  (result) => {
    if (result) process.stdout.write(`${JSON.stringify(result)}\n`);
  },
  (error: unknown) => {
    const { exitCode, message } = describeError(error);
    // Spec codes where one fits; otherwise 100 + our exit code, which names the cause.
    const code = error instanceof CniError ? error.cniCode : 100 + exitCode;
    process.stdout.write(`${JSON.stringify({ cniVersion: '1.0.0', code, msg: message })}\n`);
    process.exitCode = 1;
  },
);
