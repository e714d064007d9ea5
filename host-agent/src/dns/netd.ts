import { connect } from 'node:net';

// Android's resolver is netd's: a process asks it through the dnsproxyd
// socket, and netd answers on the caller's default network, so Private DNS
// and a VPN's DNS stay in force. The command is text ending in NUL:
// "resnsend <netId> <flags> <query in base64>" (netId 0: the default
// network). The reply is a big-endian int32, the rcode or a negative errno;
// after an rcode, a big-endian int32 length and the answer.

export const NETD_DNS_SOCKET = '/dev/socket/dnsproxyd';

// netd reads a command into a 1024-byte buffer.
const MAX_COMMAND_BYTES = 1024;
const MAX_ANSWER_BYTES = 65_535;
const TIMEOUT_MS = 5000;

/** netd's answer to `query`, or undefined when it failed or said nothing usable. */
export function askNetd(socketPath: string, query: Buffer): Promise<Buffer | undefined> {
  const command = Buffer.from(`resnsend 0 0 ${query.toString('base64')}\0`);
  if (command.length > MAX_COMMAND_BYTES) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let got = Buffer.alloc(0);
    const done = (answer: Buffer | undefined) => {
      resolve(answer);
      socket.destroy();
    };
    socket.setTimeout(TIMEOUT_MS, () => done(undefined));
    socket.on('connect', () => socket.write(command));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4 && got.readInt32BE(0) < 0) return done(undefined);
      if (got.length < 8) return;
      const length = got.readInt32BE(4);
      if (length < 0 || length > MAX_ANSWER_BYTES) return done(undefined);
      if (got.length >= 8 + length) done(Buffer.from(got.subarray(8, 8 + length)));
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
  });
}
