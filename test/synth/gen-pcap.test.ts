import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseGenPcapArgs, runGenPcap } from '../../src/cli/gen-pcap.js';
import { NetSpectraError } from '../../src/model/errors.js';

function capturingIo(): { io: { stdout: { write(text: string): boolean }; stderr: { write(text: string): boolean } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (text: string) => ((out += text), true) },
      stderr: { write: (text: string) => ((err += text), true) },
    },
    out: () => out,
    err: () => err,
  };
}

describe('gen-pcap CLI', () => {
  let folder = '';
  void before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'netspectra-gen-pcap-'));
  });
  void after(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('prints help and exits 0', async () => {
    const { io, out, err } = capturingIo();
    assert.equal(await runGenPcap(['--help'], io), 0);
    assert.match(out(), /Usage: netspectra gen-pcap --out FILE --packets N/);
    assert.match(out(), /--syn-flood N/);
    assert.equal(err(), '');
  });

  const badCommandLines: [string[], string][] = [
    [['--packets', '100'], '--out'],
    [['--out', 'x.pcap'], '--packets'],
    [['--out', 'x.pcap', '--packets', 'many'], '--packets'],
    [['--out', 'x.pcap', '--packets', '10.5'], '--packets'],
    [['--out', 'x.pcap', '--packets', '100', '--flows', '200'], '--packets'],
    [['--out', 'x.pcap', '--packets', '100', '--zipf', '0'], '--zipf'],
    [['--out', 'x.pcap', '--packets', '100', '--ipv6', '1.5'], '--ipv6'],
    [['--out', 'x.pcap', '--packets', '100', '--spread', '0'], '--spread'],
    [['--out', 'x.pcap', '--packets', '100', '--syn-flood', '-3'], '--syn-flood'],
    [['--out', 'x.pcap', '--packets', '100', '--seed', 'abc'], '--seed'],
    [['--out', 'x.pcap', '--packets', '100', '--duration', '0'], '--duration'],
    [['--out', 'x.pcap', '--packets', '100', '--start', 'noon'], '--start'],
    [['--out', 'x.pcap', '--packets', '100', '--snaplen', '40'], '--snaplen'],
    [['--out', 'x.pcap', '--packets', '100', '--flow', '3'], '--flow'],
    [['--out', 'x.pcap', '--packets', '100', 'extra'], 'extra'],
    [['--out', 'x.pcap', '--packets'], '--packets'],
  ];
  for (const [argv, flag] of badCommandLines) {
    it(`exits 2 naming ${flag} for: ${argv.join(' ')}`, async () => {
      const { io, out, err } = capturingIo();
      assert.equal(await runGenPcap(argv, io), 2);
      assert.match(err(), /^netspectra: NS_ERR_USAGE: /);
      assert.ok(err().includes(flag), err());
      assert.equal(out(), '');
    });
  }

  it('reports usage errors as NetSpectraError NS_ERR_USAGE', () => {
    assert.throws(
      () => parseGenPcapArgs(['--out', 'x', '--packets', '5', '--ipv6', 'lots']),
      (error: unknown) => error instanceof NetSpectraError && error.code === 'NS_ERR_USAGE' && error.message.includes('--ipv6'),
    );
  });

  it('writes the capture and its truth beside it', async () => {
    const out = join(folder, 'small.pcap');
    const { io, out: stdout } = capturingIo();
    const argv = ['--out', out, '--packets', '20000', '--flows', '400', '--spreaders', '2', '--spread', '50', '--syn-flood', '1000', '--ipv6', '0.2', '--seed', '5', '--nanosecond'];
    assert.equal(await runGenPcap(argv, io), 0);
    assert.match(stdout(), /wrote 20000 packets/);
    const capture = await readFile(out);
    assert.equal(capture.readUInt32LE(0), 0xa1b23c4d);
    let records = 0;
    for (let o = 24; o < capture.length; o += 16 + capture.readUInt32LE(o + 8)) records++;
    assert.equal(records, 20_000);
    const truth = JSON.parse(await readFile(`${out}.truth.json`, 'utf8')) as Record<string, unknown>;
    assert.equal(truth.file, 'small.pcap');
    assert.equal(truth.frames, 20_000);
    assert.equal((truth.flows as unknown[]).length, truth.flow_count);
    assert.deepEqual((truth.generator as Record<string, unknown>).spreaders, 2);

    // Same command, same bytes.
    const again = join(folder, 'again.pcap');
    assert.equal(await runGenPcap(argv.map((arg) => (arg === out ? again : arg)), capturingIo().io), 0);
    assert.ok(capture.equals(await readFile(again)));
  });

  it('creates missing folders of --out', async () => {
    const { io } = capturingIo();
    assert.equal(await runGenPcap(['--out', join(folder, 'new', 'deeper', 'x.pcap'), '--packets', '100'], io), 0);
  });

  it('exits 1 with NS_ERR_STORE_WRITE when the file cannot be created', async () => {
    const { io, err } = capturingIo();
    const notAFolder = join(folder, 'plain-file');
    await writeFile(notAFolder, 'x');
    assert.equal(await runGenPcap(['--out', join(notAFolder, 'x.pcap'), '--packets', '100'], io), 1);
    assert.match(err(), /NS_ERR_STORE_WRITE/);
  });
});
