/**
 * A hostile guest, run inside its netns in place of the guest agent: it
 * answers the waiting attach's first configure after renaming its link out
 * of its one-time name WITHOUT putting the token into the alias, and to a
 * name other than the one it confirms, so no link of its netns shows its
 * token, the confirmed name included, and the daemon's first-name rotation
 * finds nothing to rotate. Then it opens `sessions` more full sessions with that
 * token, one after another. Prints "first", then a summary as JSON.
 *
 *   node first-name-holder.js <socket> <sessions>
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { encodeFrame, FrameDecoder, tokenOfLink } from '@guestnet/protocol';
import { GuestAuth } from '../../fixtures/guest-auth.js';

const [socketPath, sessions = '20'] = process.argv.slice(2) as [string, string?];

async function oneTimeLink(): Promise<{ name: string; token: string }> {
  for (;;) {
    const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{
      ifname: string;
      ifalias?: string;
    }>;
    for (const link of links) {
      const token = tokenOfLink({ name: link.ifname, alias: link.ifalias });
      if (token) return { name: link.ifname, token };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function session(token: string, beforeApplied: (rename: string) => void): Promise<string> {
  return new Promise((done) => {
    const auth = new GuestAuth([token]);
    const socket = connect(socketPath);
    const decoder = new FrameDecoder();
    let outcome = 'dropped';
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('connect', () => socket.write(encodeFrame(auth.hello())));
    socket.on('data', (chunk) => {
      for (const frame of decoder.push(chunk) as Array<Record<string, unknown>>) {
        if (frame.type === 'challenge') {
          const proof = auth.prove(frame as { link: string; nonce: string });
          if (proof) socket.write(encodeFrame(proof));
        } else if (frame.type === 'configure') {
          beforeApplied(String((frame.link as { rename: string }).rename));
          socket.write(encodeFrame(auth.applied(frame as { seq: number; link: object; dns: unknown })));
          outcome = 'configured';
          // The host hears the applied before the hang-up.
          setTimeout(() => socket.destroy(), 100);
        } else if (frame.type === 'error') {
          outcome = String(frame.code);
          socket.destroy();
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => done(outcome));
  });
}

const { name, token } = await oneTimeLink();
let renamed = false;
const first = await session(token, (rename) => {
  if (renamed) return;
  renamed = true;
  execFileSync('ip', ['link', 'set', 'dev', name, 'down']);
  // A name it does not confirm: under the confirmed one, the rotation would give the link a new token.
  execFileSync('ip', ['link', 'set', 'dev', name, 'name', `${rename.slice(0, 10)}held`]);
});
console.log('first', first);
const outcomes: Record<string, number> = {};
for (let i = 0; i < Number(sessions); i++) {
  const outcome = await session(token, () => {});
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  // Within the netns' session budget (4 a second): each is an ordinary, admitted session.
  await new Promise((r) => setTimeout(r, 300));
}
console.log(JSON.stringify(outcomes));
