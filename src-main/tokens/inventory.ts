// What the home screen and `keyceremony tokens` show: every configured module, every slot, and for each
// token which KMS wrapping algorithms it can perform inside itself. A module or slot that fails is reported
// in place; it never hides the others.
import type { TokenLayer } from '../../hsm/token.js';
import type { ErrorData, KmsCapability, ModuleStatus, SlotInfo, SlotRef } from '../../hsm/types.js';
import { toErrorData } from '../errors.js';
import { formatTokenUri } from '../../hsm/uri.js';

export interface SlotEntry extends SlotInfo {
  uri?: string;
  mechanismCount?: number;
  capabilities: KmsCapability[];
  error?: ErrorData;
}

export interface Inventory {
  modules: ModuleStatus[];
  slots: SlotEntry[];
  takenAt: string;
}

export type CapabilityProbe = (layer: TokenLayer, slot: SlotRef) => Promise<KmsCapability[]>;

export async function takeInventory(layer: TokenLayer, probe: CapabilityProbe): Promise<Inventory> {
  const modules = await layer.listModules();
  const slots: SlotEntry[] = [];
  for (const module of modules) {
    if (!module.loaded) continue;
    let moduleSlots: SlotInfo[];
    try {
      moduleSlots = await layer.listSlots(module.id);
    } catch (error) {
      // The module loaded but cannot list its slots now (e.g. a reader unplugged): report it on the module.
      module.error = toErrorData(error);
      continue;
    }
    for (const slot of moduleSlots) {
      const entry: SlotEntry = { ...slot, capabilities: [] };
      if (slot.token) {
        entry.uri = formatTokenUri(slot.token);
        try {
          entry.mechanismCount = (await layer.listMechanisms(slot)).length;
          entry.capabilities = await probe(layer, slot);
        } catch (error) {
          entry.error = toErrorData(error);
        }
      }
      slots.push(entry);
    }
  }
  return { modules, slots, takenAt: new Date().toISOString() };
}
