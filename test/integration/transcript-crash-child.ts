// The child of the crash test: opens the store, then appends forever, printing each seq only after
// append() has resolved. The parent kills it with SIGKILL at random moments.
import { TranscriptStore } from '../../src-main/transcript/store.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: child STORE_DIR');
const spki = Buffer.from(process.argv[3] ?? '', 'base64');

const { store, report } = await TranscriptStore.open(dir, { checkpointEvery: 7 });
process.stdout.write(`ready ${report.entries} ${Math.round(process.uptime() * 1000)}\n`);
if (store.size === 0) {
  const g = await store.appendGenesis('crash', 'administrator', { manufacturer: 'm', model: 'x', serial: '1', label: 'crash' }, spki);
  process.stdout.write(`ack ${g.seq} ${g.hash}\n`);
}
for (let i = 0; ; i += 1) {
  const e = await store.append({ ceremonyId: `crash-${process.pid}`, step: `step-${i}`, kind: i % 2 === 0 ? 'intent' : 'result', actor: 'administrator', data: { i, pad: 'x'.repeat(i % 300) } });
  process.stdout.write(`ack ${e.seq} ${e.hash}\n`);
}
