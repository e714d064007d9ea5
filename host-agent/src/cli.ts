import { Command, Option } from 'commander';
import { BadPidError, checkPid, ExitCode, UsageError } from '@guestnet/protocol';
import { installExitGuard, installPipeGuard, print, reportCliFailure, STDOUT_FOR_COMMANDER } from '@guestnet/runtime';
import { configureLog, flushLog, isLevel, type Level, log } from './log.js';
import { parsePortForward } from './model/port-forward.js';
import { formatAttach, formatDetach, formatDetachAll, formatDoctor, formatForward, formatStatus } from './output.js';
import { DEFAULT_CONFIG_PATH, readConfigFile, resolveSettings, SETTINGS } from './settings.js';

// Each command's module (the engine, the daemon, winston behind them) loads
// only when that command runs: --help and a mistyped flag stay fast.
const commands = {
  attach: () => import('./commands/attach.js'),
  detach: () => import('./commands/detach.js'),
  doctor: () => import('./commands/doctor.js'),
  forward: () => import('./commands/forward.js'),
  serve: () => import('./commands/serve.js'),
  status: () => import('./commands/status.js'),
};

interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  logLevel?: string;
}

function logLevel(globals: GlobalOptions, fallback: Level): Level {
  if (globals.verbose) return 'debug';
  if (globals.logLevel === undefined) return fallback;
  if (!isLevel(globals.logLevel)) throw new UsageError(`--log-level: '${globals.logLevel}' is not error, warn, info or debug`);
  return globals.logLevel;
}

const settled = installExitGuard('host-agent');

function parsePid(text: string): number {
  const checked = checkPid(text);
  if (!checked.ok) throw new BadPidError(checked.reason);
  return checked.value;
}

function emit(json: boolean | undefined, value: unknown, lines: string[]): void {
  if (json) print(JSON.stringify(value));
  else for (const line of lines) print(line);
}

/**
 * Defaults, the config file, then GUESTNET_STATE_DIR, then flags. The
 * variable lets hooks and the CNI plugin, which runtimes start with a fixed
 * command line, share one state dir with the daemon.
 */
function loadSettings(options: Record<string, unknown>) {
  const configPath = typeof options.config === 'string' ? options.config : DEFAULT_CONFIG_PATH;
  const config = readConfigFile(configPath, options.config !== undefined);
  const fromEnv = process.env.GUESTNET_STATE_DIR;
  return resolveSettings(config, { ...(fromEnv ? { stateDir: fromEnv } : {}), ...definedOnly(options) }, configPath);
}

const definedOnly = (options: Record<string, unknown>) => Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));

const CONFIG_OPTION = ['--config <file>', `JSON config (default ${DEFAULT_CONFIG_PATH} if present)`] as const;

const program = new Command('host-agent')
  .description("Gives a guest (a process in its own network namespace) network through this host's uplink.")
  .option('--json', 'machine-readable output on stdout')
  .option('--verbose', 'debug logs, stack traces on errors')
  .option('--log-level <level>', 'error, warn, info or debug (default: warn; info for serve)')
  .exitOverride()
  .configureOutput({ ...STDOUT_FOR_COMMANDER, outputError: () => {} })
  .hook('preAction', (_, action) => {
    const globals = action.optsWithGlobals() as GlobalOptions;
    configureLog({ level: logLevel(globals, 'warn'), target: 'stderr', format: process.stderr.isTTY ? 'human' : 'json' });
  });

const attachCommand = program
  .command('attach')
  .description('wire the guest of <pid> to the uplink and wait for its guest agent to confirm')
  .argument('<pid>', "any process inside the guest's network namespace")
  .option(...CONFIG_OPTION)
  .option('--dry-run', 'print the exact commands instead of running them')
  .option('--no-wait', 'configure the host side only; do not wait for the guest agent');
for (const setting of Object.values(SETTINGS)) attachCommand.option(setting.flag, setting.help);
attachCommand.action(async (pidText: string, options: Record<string, unknown>, command: Command) => {
  const globals = command.optsWithGlobals() as GlobalOptions;
  const pid = parsePid(pidText);
  const settings = loadSettings(options);
  const { attach } = await commands.attach();
  const result = await attach(pid, {
    settings,
    dryRun: options.dryRun === true,
    wait: options.wait !== false,
    print,
    // Other guests' agents reconnect while this one waits: worth a line only with --verbose; misbehaviour always is.
    onGuestEvent: (event) =>
      'rejected' in event
        ? log(event.unknownGuest ? 'debug' : 'warn', 'guest connection rejected', { reason: event.rejected })
        : log('debug', 'guest connected', event),
  });
  emit(globals.json, { pid, ...result }, formatAttach(pid, result));
});

program
  .command('detach')
  .description('remove everything attach added for <pid>; safe to repeat, works after the guest is gone')
  .argument('[pid]', 'the pid given to attach')
  .option('--all', 'every guest of the state dir at once (a launcher shutting down)')
  .option(...CONFIG_OPTION)
  .option('--dry-run', 'print the exact commands instead of running them')
  .option(SETTINGS.stateDir.flag, SETTINGS.stateDir.help)
  .action(async (pidText: string | undefined, options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const all = options.all === true;
    if (all === (pidText !== undefined)) throw new UsageError('give either a pid or --all (see host-agent detach --help)');
    const { stateDir } = loadSettings(options);
    const { detach, detachAll } = await commands.detach();
    if (all) {
      const result = await detachAll({ stateDir, dryRun: options.dryRun === true, print });
      return emit(globals.json, result, formatDetachAll(result));
    }
    const pid = parsePid(pidText as string);
    const result = await detach(pid, { stateDir, dryRun: options.dryRun === true, print });
    emit(globals.json, result, formatDetach(result));
  });

program
  .command('forward')
  .description('forward a host port to a port of an attached guest (e.g. 5555:5555 for adbd); removed with the guest')
  .argument('<pid>', 'the pid given to attach')
  .argument('<ports>', 'hostPort:guestPort[/tcp|/udp], tcp by default')
  .option('--remove', 'stop forwarding that host port')
  .option(...CONFIG_OPTION)
  .option('--dry-run', 'print the exact commands instead of running them')
  .option(SETTINGS.stateDir.flag, SETTINGS.stateDir.help)
  .action(async (pidText: string, ports: string, options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const pid = parsePid(pidText);
    const spec = parsePortForward(ports);
    if (typeof spec === 'string') throw new UsageError(spec);
    const { stateDir } = loadSettings(options);
    const { forward } = await commands.forward();
    const result = await forward(pid, spec, { stateDir, remove: options.remove === true, dryRun: options.dryRun === true, print });
    emit(globals.json, result, formatForward(result));
  });

program
  .command('status')
  .description('list attached guests: alive or gone, names, addresses, agent, last apply, counters')
  .option(...CONFIG_OPTION)
  .option(SETTINGS.stateDir.flag, SETTINGS.stateDir.help)
  .action(async (options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const { stateDir } = loadSettings(options);
    const { status } = await commands.status();
    const result = await status(stateDir);
    emit(globals.json, { guests: result.guests }, formatStatus(result));
  });

program
  .command('doctor')
  .description('check this host for what guests need, explaining each finding and its fix; exits non-zero if something blocks guests')
  .option(...CONFIG_OPTION)
  .option(SETTINGS.uplink.flag, SETTINGS.uplink.help)
  .option(SETTINGS.pool.flag, SETTINGS.pool.help)
  .option(SETTINGS.socket.flag, SETTINGS.socket.help)
  .option(SETTINGS.stateDir.flag, SETTINGS.stateDir.help)
  .option(SETTINGS.firewall.flag, SETTINGS.firewall.help)
  .option(SETTINGS.ipv6.flag, SETTINGS.ipv6.help)
  .option(SETTINGS.type.flag, SETTINGS.type.help)
  .option(SETTINGS.link.flag, SETTINGS.link.help)
  .option(SETTINGS.vlanId.flag, SETTINGS.vlanId.help)
  .action(async (options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const { doctor } = await commands.doctor();
    const findings = await doctor(loadSettings(options));
    emit(globals.json, { checks: findings }, formatDoctor(findings));
    if (findings.some((f) => f.status === 'fail')) process.exitCode = ExitCode.doctorFailed;
  });

program
  .command('serve')
  .description('run as the daemon of a state dir: serves attach/detach/status, keeps guest agents connected, reaps dead guests')
  .option(...CONFIG_OPTION)
  .option(SETTINGS.socket.flag, SETTINGS.socket.help)
  .option(SETTINGS.stateDir.flag, SETTINGS.stateDir.help)
  .option(SETTINGS.timeout.flag, SETTINGS.timeout.help)
  .option('--log-file <path>', 'write JSON log lines here, rotated at 10 MiB (default: stdout)')
  .option('--netd-socket <path>', "netd's DNS socket, used when resolv.conf names no resolver (default /dev/socket/dnsproxyd)")
  .addOption(new Option('--kill-after-op <n>', 'test seam: SIGKILL the daemon right after its Nth setup op').hideHelp().argParser(Number))
  .action(async (options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const file = options.logFile;
    // Its log lines go to process.stdout; a reader that left ends it quietly.
    if (typeof file !== 'string') installPipeGuard();
    configureLog({ level: logLevel(globals, 'info'), target: typeof file === 'string' ? { file } : 'stdout', format: 'json' });
    const { serve } = await commands.serve();
    const { killAfterOp, netdSocket, ...rest } = options;
    await serve(loadSettings(rest), log, {
      ...(typeof killAfterOp === 'number' ? { killAfterOp } : {}),
      ...(typeof netdSocket === 'string' ? { netdSocket } : {}),
    });
  });

// No top-level await: the single-file CommonJS bundle cannot have one.
program
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.exitCode = reportCliFailure('host-agent', error, program.opts() as GlobalOptions);
  })
  .then(flushLog)
  .then(settled);
