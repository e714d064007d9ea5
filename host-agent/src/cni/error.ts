import { AgentError, type ExitCodeName } from '@guestnet/protocol';

// A module of its own: the daemon's control client rebuilds it from a reply,
// and a client the daemon serves has no use for the rest of the request code.

/** A failure with the CNI spec's error code (1-99 are the spec's, 100 and up ours). */
export class CniError extends AgentError {
  constructor(
    readonly cniCode: number,
    message: string,
    code: ExitCodeName = 'config',
  ) {
    super(code, message);
  }
}
