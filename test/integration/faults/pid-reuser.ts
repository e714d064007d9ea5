/**
 * A hostile guest, run in its netns in place of its agent. It answers the
 * waiting attach's configure as told (renames its link, confirms that name),
 * but first lets the attached pid exit while it keeps the netns alive itself,
 * and sets the pid counter so that the next process started gets that pid:
 * the daemon's own next process, in the host's netns. It writes ns_last_pid,
 * as a guest sharing the host's pid namespace could reach by forking until
 * the counter sits there; the test runs in a pid namespace of its own.
 *
 *   node pid-reuser.js <socket> <attached pid>
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { encodeFrame, FrameDecoder, tokenOfLink } from '@guestnet/protocol';
import { GuestAuth } from '../../fixtures/guest-auth.js';

const [socketPath, attachedText] = process.argv.slice(2) as [string, string];
const attached = Number(attachedText);

async function ourLink(): Promise<{ name: string; token: string }> {
  for (;;) {
    const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{
      ifname: string;
      ifalias?: string;
    }>;
    const found = links.flatMap((link) => {
      const token = tokenOfLink({ name: link.ifname, alias: link.ifalias });
      return token ? [{ name: link.ifname, token }] : [];
    });
    if (found[0]) return found[0];
    await new Promise((r) => setTimeout(r, 20));
  }
}

const { name, token } = await ourLink();
const auth = new GuestAuth([token]);
const socket = connect(socketPath);
const decoder = new FrameDecoder();
socket.on('connect', () => socket.write(encodeFrame(auth.hello())));
socket.on('data', async (chunk) => {
  for (const frame of decoder.push(chunk) as Array<Record<string, unknown>>) {
    if (frame.type === 'challenge') {
      const proof = auth.prove(frame as { link: string; nonce: string });
      if (proof) socket.write(encodeFrame(proof));
    } else if (frame.type === 'configure') {
      const rename = String((frame.link as { rename: string }).rename);
      execFileSync('ip', ['link', 'set', 'dev', name, 'down', 'name', rename]);
      process.kill(attached, 'SIGKILL');
      while (existsSync(`/proc/${attached}`)) await new Promise((r) => setTimeout(r, 5));
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(attached - 1));
      socket.write(encodeFrame(auth.applied(frame as { seq: number; link: object; dns: unknown })));
      console.log('applied', rename);
    }
  }
});
socket.on('error', () => {});
// The netns lives on without its attached pid, held by this process, for as long as the test looks.
setTimeout(() => process.exit(0), 8000);
