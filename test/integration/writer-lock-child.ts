// The child of the writer-lock test: opens a chain's store for writing (taking its writer lock) and, once it
// holds it, appends `count` entries, printing each seq; then holds the lock until killed (`hold`) or closes
// the store and exits (`once`). A refusal is printed as one JSON line and exits 3.
import { TranscriptStore } from '../../src-main/transcript/store.js';

const [dir, mode, count] = process.argv.slice(2) as [string, 'hold' | 'once', string];
let store: TranscriptStore;
try {
  store = (await TranscriptStore.open(dir, { lockCommand: `writer-lock-child ${mode}` })).store;
} catch (error) {
  const e = error as { code?: string; message: string };
  process.stdout.write(`${JSON.stringify({ refused: { code: e.code, message: e.message } })}\n`);
  process.exit(3);
}
process.stdout.write(`locked ${process.pid}\n`);
if (store.size === 0) await store.appendGenesis('lock-test', 'administrator', { manufacturer: 'm', model: 'x', serial: '1', label: 'lock' }, Buffer.from(process.argv[5] ?? '', 'base64'));
for (let i = 0; i < Number(count); i += 1) {
  const e = await store.append({ ceremonyId: `child-${process.pid}`, step: `s${i}`, kind: 'note', actor: 'administrator', data: { i } });
  process.stdout.write(`ack ${e.seq}\n`);
}
if (mode === 'once') {
  await store.close();
  process.stdout.write('closed\n');
} else {
  process.stdout.write('holding\n');
  setInterval(() => undefined, 1 << 30);
}
