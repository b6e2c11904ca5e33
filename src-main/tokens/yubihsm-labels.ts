// The labels of YubiHSMs this laptop initialised or logged in to, by serial, kept in the data directory.
// A YubiHSM answers nothing, not even its label, before a login; but choosing the token and finding its
// transcript chain (matched by serial and label) come before the quorum login. So the inventory and
// select-token show what this laptop last saw; the chain-head check after the login catches a device
// that was re-initialised elsewhere since.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { LabelMemory } from '../../hsm/yubihsm/token-layer.js';
import { FILE_CAPS, readBoundedSync } from '../files/read-bounded.js';
import { writeJsonFileAtomicSync } from '../util/atomic-json.js';

export const YUBIHSM_LABELS_FILE = 'yubihsm-labels.json';
const LABELS_FILE = { what: 'labels file', cap: FILE_CAPS.yubihsmLabels, remedy: 'Delete it; the labels come back at the next login.', code: 'LABELS_INVALID' };

const labelsFile = z.strictObject({ version: z.literal(1), labels: z.record(z.string().regex(/^\d{1,10}$/), z.string().max(4096)) });

export class FileLabelMemory implements LabelMemory {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, YUBIHSM_LABELS_FILE);
  }

  recall(serial: string): string | undefined {
    return this.read()[serial];
  }

  remember(serial: string, label: string): void {
    const labels = this.read();
    if (labels[serial] === label) return;
    labels[serial] = label;
    // A preference, not evidence (the transcript is): replaced atomically.
    writeJsonFileAtomicSync(this.file, { version: 1, labels });
  }

  /** A damaged file is treated as empty: the labels only decorate the token list until the next login. */
  private read(): Record<string, string> {
    if (!existsSync(this.file)) return {};
    try {
      const parsed = labelsFile.safeParse(JSON.parse(readBoundedSync(this.file, LABELS_FILE).toString('utf8')));
      return parsed.success ? { ...parsed.data.labels } : {};
    } catch {
      return {};
    }
  }
}
