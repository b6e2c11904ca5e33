// The air-gap check against real kernel interfaces: a private network namespace (unshare -n) with a veth
// pair we bring up and down. Needs root or user namespaces; without them the test says why it did not run.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { assessInterfaces } from '../../src-main/airgap/airgap.js';

const dump = `node -e 'process.stdout.write(JSON.stringify(require("os").networkInterfaces())+"\\n")'`;
const script = [
  'set -e',
  'ip link set lo up',
  dump,
  'ip link add kc0 type veth peer name kc1',
  'ip addr add 192.0.2.1/24 dev kc0',
  dump, // configured but down
  'ip link set kc0 up',
  'ip link set kc1 up',
  'sleep 0.5',
  dump, // up and running
  'ip link set kc1 down',
  'sleep 0.3',
  dump, // peer down: no carrier
].join('\n');

const probe = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' });
const why = probe.error ? `unshare is not available (${probe.error.message})` : probe.status !== 0 ? `unshare -n is not permitted here: ${probe.stderr.trim()}` : undefined;
if (why) console.log(`airgap-netns: not run: ${why}`);

describe.skipIf(why !== undefined)('air-gap status in a real network namespace', () => {
  it('is offline with loopback or a down interface, and names an interface that is up', () => {
    const run = spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const tables = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(tables).toHaveLength(4);
    const [loOnly, down, up, noCarrier] = tables.map((t) => assessInterfaces(t));
    expect(loOnly!.offline).toBe(true);
    expect(down!.offline).toBe(true);
    expect(up!.offline).toBe(false);
    expect(up!.interfaces.find((i) => i.name === 'kc0')?.addresses).toContain('192.0.2.1/24');
    expect(noCarrier!.offline).toBe(true);
  });
});
