import { Argument, Command } from 'commander';
import { existsSync } from 'node:fs';
import { ExitCode, PROTOCOL_VERSION, UsageError } from '@guestnet/protocol';
import {
  examplesHelp,
  GUESTNET_VERSION,
  installExitGuard,
  outputWidth,
  print,
  reportCliFailure,
  STDOUT_FOR_COMMANDER,
} from '@guestnet/runtime';
import type { Level } from './log.js';
import type { DnsTarget } from './planner.js';

interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
}

const settled = installExitGuard('guest-agent');

const DEFAULT_STATUS_FILE = '/run/guestnet-agent.json';
const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';
const DEFAULT_IPCONFIG = '/data/misc/ethernet/ipconfig.txt';

interface DnsOptions {
  platform: string;
  resolvConf: string;
  ipconfig: string;
}

/** Android keeps /system/build.prop; a Linux guest that has one can say --platform linux. */
function dnsTarget(options: DnsOptions): DnsTarget {
  if (!['auto', 'linux', 'android'].includes(options.platform))
    throw new UsageError(`--platform: '${options.platform}' is not auto, linux or android`);
  const android = options.platform === 'android' || (options.platform === 'auto' && existsSync('/system/build.prop'));
  const target: DnsTarget = android ? { kind: 'ipconfig', path: options.ipconfig } : { kind: 'resolv.conf', path: options.resolvConf };
  absolute(target.path);
  return target;
}

function withDnsOptions(command: Command, verb: string): Command {
  return command
    .option('--platform <name>', 'auto, linux or android: where DNS goes', 'auto')
    .option('--resolv-conf <path>', `the resolvers file ${verb} on linux`, DEFAULT_RESOLV_CONF)
    .option('--ipconfig <path>', `EthernetService's static config ${verb} on android`, DEFAULT_IPCONFIG);
}

function absolute(...paths: string[]): void {
  for (const path of paths) {
    if (!path.startsWith('/')) throw new UsageError(`'${path}' must be an absolute path`);
  }
}

/** A command with examples below its help. */
const withExamples = (command: Command, examples: Array<[string, string]>) => command.addHelpText('after', examplesHelp(examples));

const program = new Command('guest-agent')
  .description("Configures this guest's end of a guestnet link as its host agent instructs.")
  .version(`guest-agent ${GUESTNET_VERSION} (protocol v${PROTOCOL_VERSION})`, '-V, --version', 'print the version')
  .helpOption('-h, --help', 'print this help; `guest-agent help <command>` for a command, with examples')
  .helpCommand('help [command]', 'print the help of a command, with examples')
  .option('--json', 'machine-readable output on stdout')
  .option('--verbose', 'debug logs, stack traces on errors')
  .exitOverride()
  .configureOutput({ ...STDOUT_FOR_COMMANDER, outputError: () => {} });

withExamples(withDnsOptions(program.command('run'), 'the agent writes'), [
  ['guest-agent run', "from the guest's init: waits for the host, applies, keeps running"],
  ['guest-agent run --once --log-level debug', 'apply once and exit, saying each step'],
])
  .description('wait for the host agent, apply what it sends, confirm; keeps running to serve later attaches')
  .option('--socket <path>', 'host agent socket, as this guest sees it', '/run/guestnet/guest.sock')
  .option('--status-file <path>', 'where to keep the state `status` reads', DEFAULT_STATUS_FILE)
  .option('--once', 'exit after the first successful apply')
  .option('--log-level <level>', 'error, warn, info or debug', 'info')
  .action(async (options: DnsOptions & { socket: string; statusFile: string; once?: boolean; logLevel: string }, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    if (!['error', 'warn', 'info', 'debug'].includes(options.logLevel))
      throw new UsageError(`--log-level: '${options.logLevel}' is not error, warn, info or debug`);
    absolute(options.socket, options.statusFile);
    const target = dnsTarget(options);
    // Loaded only here: run is the long-lived path, --help stays fast.
    const [{ createLog }, { run }] = await Promise.all([import('./log.js'), import('./commands/run.js')]);
    const log = createLog(globals.verbose ? 'debug' : (options.logLevel as Level));
    // Handlers that stay: a second signal during shutdown must not skip the cleanup.
    const stop = new Promise<NodeJS.Signals>((resolve) => {
      process.on('SIGTERM', resolve);
      process.on('SIGINT', resolve);
    });
    const report = await run({
      socket: options.socket,
      dnsTarget: target,
      statusFile: options.statusFile,
      once: options.once === true,
      stop,
      onEvent: (message, meta) => log.log(meta && 'error' in meta ? 'warn' : 'info', message, meta),
    });
    if (report && globals.json) print(JSON.stringify(report));
    else if (report)
      print(
        `applied: ${report.state.name} ${report.state.address}/${report.state.prefixLength} via ${report.state.gateway} (${report.changes} changes)`,
      );
    // Stopped by a signal: the session and the event monitor would keep the process alive.
    if (!report) {
      settled();
      process.exit(ExitCode.ok);
    }
  });

withExamples(withDnsOptions(program.command('status'), 'the agent wrote'), [
  ['guest-agent status', 'link, address, route, DNS, host connection'],
  ['guest-agent status --json', ''],
])
  .description('show the link, addresses, route, DNS, host connection and last apply')
  .option('--status-file <path>', "the running agent's state file", DEFAULT_STATUS_FILE)
  .action(async (options: DnsOptions & { statusFile: string }, command: Command) => {
    absolute(options.statusFile);
    const target = dnsTarget(options);
    const { guestStatus, formatGuestStatus } = await import('./commands/status.js');
    const status = await guestStatus(options.statusFile, target);
    print((command.optsWithGlobals() as GlobalOptions).json ? JSON.stringify(status) : formatGuestStatus(status, outputWidth()));
  });

withExamples(program.command('completion'), [
  ['source <(guest-agent completion bash)', 'complete in this shell'],
  ['guest-agent completion bash >/etc/bash_completion.d/guest-agent', ''],
])
  .description('print a script that completes verbs and flags in the shell')
  .addArgument(new Argument('<shell>', 'the shell').choices(['bash']))
  .action(async () => {
    const { bashCompletion } = await import('@guestnet/runtime/completion');
    print(bashCompletion(program));
  });

// No top-level await: the single-file CommonJS bundle cannot have one.
program
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.exitCode = reportCliFailure('guest-agent', error, program.opts() as GlobalOptions);
  })
  .then(settled);
