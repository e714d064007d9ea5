// Process-level helpers both agents use, each with one behaviour: commands,
// the kernel's event stream, durable files, pid liveness, resolver lists and
// how a CLI reports. The wire format lives in @guestnet/protocol.
export {
  type CommandResult,
  DEFAULT_COMMAND_DEADLINE_MS,
  runCommand,
  runCommandInParts,
  startCommand,
  type StartedCommand,
} from './command.js';
export { SpareProcess } from './spare.js';
export { IpMonitor } from './monitor.js';
export { readSmallFile, writeAtomically } from './files.js';
export { pidAlive } from './process.js';
export { nameservers } from './resolv.js';
export {
  examplesHelp,
  GUESTNET_VERSION,
  installExitGuard,
  installPipeGuard,
  outputWidth,
  PIPE_WIDTH,
  print,
  reportCliFailure,
  STDOUT_FOR_COMMANDER,
  writeOut,
} from './cli.js';
