// A resumed ceremony's token: the session of the interrupted process is gone, so the token its chain's
// genesis names (serial and label) is looked for in every loaded module and a new read-write session is
// opened on it. The slot may differ after a restart; the serial and label may not.
import type { TokenLayer } from '../../../hsm/token.js';
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';

export interface ReopenedToken {
  slot: SlotRef;
  info: TokenInfo;
  session: string;
}

export async function reopenChainToken(layer: TokenLayer, token: { serial: string; label: string }, preferModule?: string): Promise<ReopenedToken> {
  const modules = (await layer.listModules()).filter((m) => m.loaded).map((m) => m.id);
  // The module the ceremony used first: the same serial could in theory appear behind two modules.
  modules.sort((a, b) => Number(b === preferModule) - Number(a === preferModule));
  for (const moduleId of modules) {
    const slots = await layer.listSlots(moduleId).catch(() => []);
    const slot = slots.find((s) => s.token && s.token.serial.trim() === token.serial && s.token.label.trim() === token.label);
    if (!slot?.token) continue;
    const ref = { moduleId, slotId: slot.slotId };
    const { session } = await layer.openSession(ref, { readWrite: true });
    return { slot: ref, info: slot.token, session };
  }
  throw new AppError(
    'ceremony-resume-token',
    `token '${token.label}' (serial ${token.serial}), which this ceremony's transcript chain belongs to, is not connected (looked in ${modules.length} loaded module${modules.length === 1 ? '' : 's'})`,
    'Connect that token (and check its module is configured), then resume again. Nothing was recorded.',
  );
}
