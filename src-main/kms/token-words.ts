// How KMS errors name a token for the room: by its label (what is written on the device and read aloud),
// with the slot id only as a hint, since slot ids change when SoftHSM tokens are initialised or replugged.
import type { TokenLayer } from '../../hsm/token.js';
import type { SlotRef, TokenInfo } from '../../hsm/types.js';

/** `The token "LABEL" (slot N)`, or `The token in slot N` when the label cannot be read. */
export async function tokenWords(layer: TokenLayer, slot: SlotRef, known?: Pick<TokenInfo, 'label'>): Promise<string> {
  let label = known?.label;
  if (label === undefined) {
    try {
      label = (await layer.listSlots(slot.moduleId)).find((s) => s.slotId === slot.slotId)?.token?.label;
    } catch {
      // The error being reported matters more than the name: fall back to the slot.
    }
  }
  return label !== undefined && label.trim() !== '' ? `The token "${label.trim()}" (slot ${slot.slotId})` : `The token in slot ${slot.slotId}`;
}
