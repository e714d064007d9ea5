import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FrameDecoder, FramedConnection, parseGuestMessage, PROTOCOL_VERSION } from '@guestnet/protocol';

describe('FramedConnection with a hostile peer', () => {
  let dir: string;
  let server: Server;
  let accepted: Promise<Socket>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-conn-'));
    server = createServer();
    accepted = new Promise((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(join(dir, 's'), resolve));
  });
  afterEach(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function peer(): Promise<{ client: Socket; connection: FramedConnection<unknown> }> {
    const client = connect(join(dir, 's'));
    const socket = await accepted;
    return { client, connection: new FramedConnection(socket, parseGuestMessage) };
  }

  /** Everything the server sent before closing, decoded. */
  function replies(client: Socket): Promise<unknown[]> {
    const decoder = new FrameDecoder();
    const frames: unknown[] = [];
    client.on('data', (chunk) => frames.push(...decoder.push(chunk)));
    return new Promise((resolve) => client.on('close', () => resolve(frames)));
  }

  it('answers garbage with an error frame, fails the receive, and closes', async () => {
    const { client, connection } = await peer();
    const answers = replies(client);
    client.write(Buffer.from('\0\0\0\x05hello'));
    await assert.rejects(connection.receive(1000), /not valid JSON/);
    const [answer] = (await answers) as Array<{ type: string; message: string }>;
    assert.equal(answer?.type, 'error');
    assert.match(answer?.message ?? '', /not valid JSON/);
  });

  it('answers a valid frame carrying {"type":"constructor"} the same way', async () => {
    const { client, connection } = await peer();
    const answers = replies(client);
    client.write(encodeFrame({ type: 'constructor' }));
    await assert.rejects(connection.receive(1000), /unknown guest message type 'constructor'/);
    assert.equal(((await answers)[0] as { type: string }).type, 'error');
  });

  it('reports a peer that hangs up in the middle of a frame', async () => {
    const { client, connection } = await peer();
    client.end(encodeFrame({ type: 'hello' }).subarray(0, 7));
    await assert.rejects(connection.receive(1000), /in the middle of a frame/);
  });

  it('times out a peer that never speaks', async () => {
    const { client, connection } = await peer();
    await assert.rejects(connection.receive(50), /no message within 50 ms/);
    client.destroy();
  });

  it('delivers valid messages in order', async () => {
    const { client, connection } = await peer();
    const hello = { type: 'hello', version: PROTOCOL_VERSION, links: [], nonce: 'a'.repeat(32), capabilities: [] };
    client.write(Buffer.concat([encodeFrame(hello), encodeFrame({ ...hello, capabilities: ['x'] })]));
    assert.deepEqual(await connection.receive(1000), hello);
    assert.deepEqual(await connection.receive(1000), { ...hello, capabilities: ['x'] });
    client.destroy();
  });

  it('lets a long-lived session wait out silence without failing', async () => {
    const { client, connection } = await peer();
    assert.equal(await connection.next(30), undefined);
    client.write(encodeFrame({ type: 'ping', seq: 1 }));
    assert.deepEqual(await connection.next(1000), { type: 'ping', seq: 1 });
    client.destroy();
    await assert.rejects(connection.next(1000), /peer closed/);
  });
});
