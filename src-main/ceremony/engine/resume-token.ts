// A resumed ceremony's token: the session of the interrupted process is gone, so the token its chain's
// genesis names is looked for in every loaded module and a new read-write session is opened on it. Tokens
// are matched by their audit key (tokens/identity.ts), never by label and serial alone: two tokens may share
// a label and some report the same serial. The slot may differ after a restart.
import type { TokenLayer } from '../../../hsm/token.js';
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import { chainBelongsTo, readTokenIdentity, spkiSha256, type GenesisToken } from '../../tokens/identity.js';

export interface ReopenedToken {
  slot: SlotRef;
  info: TokenInfo;
  session: string;
}

export async function reopenChainToken(layer: TokenLayer, token: GenesisToken, preferModule?: string): Promise<ReopenedToken> {
  const modules = (await layer.listModules()).filter((m) => m.loaded).map((m) => m.id);
  // The module the ceremony used first is looked at first; every module is looked at, so that a match
  // behind another module (which must not happen) is seen and refused rather than silently chosen.
  modules.sort((a, b) => Number(b === preferModule) - Number(a === preferModule));
  const matches: { ref: SlotRef; info: TokenInfo }[] = [];
  for (const moduleId of modules) {
    const slots = await layer.listSlots(moduleId).catch(() => []);
    for (const slot of slots) {
      if (!slot.token?.initialized) continue;
      const ref = { moduleId, slotId: slot.slotId };
      if (chainBelongsTo(token, slot.token, await readTokenIdentity(layer, ref))) matches.push({ ref, info: slot.token });
    }
  }
  const named = `token '${token.label}'${token.auditKeySpki ? ` with audit key SHA-256 ${spkiSha256(token.auditKeySpki).slice(0, 16)}…` : ` (serial ${token.serial})`}`;
  if (matches.length > 1) {
    throw new AppError(
      'ceremony-resume-token-ambiguous',
      `${matches.length} connected tokens match ${named}, which this ceremony's transcript chain belongs to: ${matches.map((m) => `slot ${m.ref.slotId} of ${m.ref.moduleId}`).join('; ')}`,
      'Disconnect the tokens that are not this ceremony\'s, then resume again. Nothing was recorded.',
    );
  }
  const found = matches[0];
  if (!found) {
    throw new AppError(
      'ceremony-resume-token',
      `${named}, which this ceremony's transcript chain belongs to, is not connected (looked in ${modules.length} loaded module${modules.length === 1 ? '' : 's'})`,
      'Connect that token (and check its module is configured), then resume again. Nothing was recorded.',
    );
  }
  const { session } = await layer.openSession(found.ref, { readWrite: true });
  return { slot: found.ref, info: found.info, session };
}
