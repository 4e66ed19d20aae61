import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { networkCreate, networkInspect, networkLs, networkPrune, networkRm } from '../../../src/cli/commands/network.js';
import { table } from '../../../src/cli/format.js';
import { allocate } from '../../../src/network/ipam.js';
import { FakeProbe, ID1, Recorder, resetSeams, tempRoots } from './helpers.js';

let roots: ReturnType<typeof tempRoots>;
let out: string;
let err: string;
const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
beforeEach(() => {
  roots = tempRoots();
  new FakeProbe().install();
  new Recorder().install();
  out = '';
  err = '';
});
afterEach(() => {
  resetSeams();
  roots.cleanup();
});

describe('minid network', () => {
  it('create prints the id; ls prints a docker-like table', async () => {
    await networkCreate('front', { subnet: '10.80.0.0/24' }, io);
    const id = out.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    out = '';
    await networkLs({}, io);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NETWORK ID {5}NAME {6}DRIVER {4}SCOPE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(1).join(' '))).toEqual(['bridge bridge local', 'front bridge local', 'host host local', 'none null local']);
    expect(lines[2].startsWith(id.slice(0, 12) + '   ')).toBe(true);
    out = '';
    await networkLs({ quiet: true }, io);
    expect(out.trim().split('\n')).toHaveLength(4);
  });

  it('inspect prints JSON, or the diagram', async () => {
    await networkCreate('front', { subnet: '10.81.0.0/24' }, io);
    out = '';
    await networkInspect(['front'], {}, io);
    expect(JSON.parse(out)[0]).toMatchObject({ Name: 'front', IPAM: { Config: [{ Subnet: '10.81.0.0/24', Gateway: '10.81.0.1' }] } });
    out = '';
    await networkInspect(['front'], { diagram: true }, io);
    // The topology as the kernel holds it (see/): a network no container joined has no bridge yet.
    expect(out).toMatch(/bridge mbr-[0-9a-f]{11} \(not set up yet: the first container connected creates it and its rules\)  virtual switch of network "front" \(id [0-9a-f]{12}\) 10\.81\.0\.0\/24, gateway 10\.81\.0\.1\n/);
    expect(out).toContain("✓ the kernel matches minid's records");
  });

  it('rm prints the names removed and fails with one line for the others', async () => {
    await networkCreate('a', { subnet: '10.82.0.0/24' }, io);
    await networkCreate('b', { subnet: '10.83.0.0/24' }, io);
    await allocate('b', '10.83.0.0/24', '10.83.0.1', ID1);
    out = '';
    await expect(networkRm(['a', 'b', 'nope'], io)).rejects.toThrow('network nope not found');
    expect(out).toBe('a\n');
    expect(err).toBe(`Error: network b has active endpoints (${ID1.slice(0, 12)}): remove or disconnect those containers first\n`);
  });

  it('prune lists what it deleted', async () => {
    await networkCreate('old', { subnet: '10.84.0.0/24' }, io);
    out = '';
    await networkPrune(io);
    expect(out).toBe('Deleted Networks:\nold\n\n');
  });

  it("table pads columns as docker's tabwriter: at least ten, three spaces after the longest", () => {
    expect(table(['A', 'BB'], [['xxxx', 'y']])).toBe('A         BB\nxxxx      y\n');
  });
});
