// After each token action, the device's own audit log entries since the last copy go into the transcript as
// one `device-log` entry (docs/transcript-format.md), so the device's record and ours can be cross-checked.
// Only layers that offer deviceLogSince (the YubiHSM 2) take part; for the others this does nothing. The
// cursor (the last device entry copied) continues across ceremonies through the chain itself.
import type { DeviceLogCursor } from '../../../hsm/device-log.js';
import type { TokenLayer } from '../../../hsm/token.js';
import { toErrorData } from '../../errors.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { TranscriptStore } from '../../transcript/store.js';

export const DEVICE_LOG_KIND = 'device-log';

/** The cursor of each running ceremony, keyed by its token state object. */
const cursors = new WeakMap<object, DeviceLogCursor>();

export interface DeviceLogTarget {
  layer: TokenLayer;
  session: string | undefined;
  /** An object that lives as long as the ceremony (its RunToken): the cursor is kept against it. */
  key: object;
  chain: TranscriptStore | undefined;
  record(kind: string, data: JsonObject): Promise<unknown>;
}

/** The last device entry an earlier ceremony copied into this chain, for this device. */
function cursorFromChain(chain: TranscriptStore | undefined, serial: string | undefined): DeviceLogCursor | null {
  const head = chain?.head();
  if (!chain || !head) return null;
  const entries = chain.entries(0, head.seq);
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e?.kind !== DEVICE_LOG_KIND) continue;
    const d = e.data as { serial?: string; entries?: { number: number; digestHex: string }[] };
    const last = d.entries?.at(-1);
    if (last && typeof d.serial === 'string' && (serial === undefined || d.serial === serial)) return { serial: d.serial, number: last.number, digestHex: last.digestHex };
  }
  return null;
}

export async function copyDeviceLog(t: DeviceLogTarget): Promise<void> {
  if (!t.layer.deviceLogSince || !t.session) return;
  const cursor = cursors.get(t.key) ?? cursorFromChain(t.chain, undefined);
  let slice;
  try {
    slice = await t.layer.deviceLogSince(t.session, cursor);
  } catch (error) {
    // The action itself succeeded; what could not be copied is said in the transcript, not hidden.
    await t.record(DEVICE_LOG_KIND, { ...(cursor ? { previous: { ...cursor } } : {}), error: toErrorData(error) as unknown as JsonObject });
    return;
  }
  if (!slice || (slice.entries.length === 0 && !slice.gap)) return;
  await t.record(DEVICE_LOG_KIND, JSON.parse(JSON.stringify(slice)) as JsonObject);
  const last = slice.entries.at(-1);
  if (last) cursors.set(t.key, { serial: slice.serial, number: last.number, digestHex: last.digestHex });
}
