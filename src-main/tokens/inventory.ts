// What the home screen and `keyceremony tokens` show: every configured module, every slot, and for each
// token which KMS wrapping algorithms it can perform inside itself. A module or slot that fails is reported
// in place; it never hides the others. Each token is named by its audit key (identity.ts), and with a data
// directory, by the transcript chain (and the init-token ceremony that started it) that key belongs to.
import type { TokenLayer } from '../../hsm/token.js';
import type { ErrorData, KmsCapability, ModuleStatus, SlotInfo, SlotRef } from '../../hsm/types.js';
import { toErrorData } from '../errors.js';
import { formatTokenUri } from '../../hsm/uri.js';
import { readTokenIdentity } from './identity.js';
import { findChainsForToken, newestChain } from './token-chains.js';

export interface SlotEntry extends SlotInfo {
  uri?: string;
  mechanismCount?: number;
  capabilities: KmsCapability[];
  /** The audit key's SPKI SHA-256 (hex), when the token holds one readable without a login. */
  auditKeySha256?: string;
  /**
   * The transcript chain on this laptop whose genesis names this token: the init-token ceremony that started
   * it (which may have been interrupted after genesis: Past ceremonies shows its state) and when.
   */
  chain?: { startedBy: string; at: string };
  error?: ErrorData;
}

export interface Inventory {
  modules: ModuleStatus[];
  slots: SlotEntry[];
  takenAt: string;
}

export type CapabilityProbe = (layer: TokenLayer, slot: SlotRef) => Promise<KmsCapability[]>;

export async function takeInventory(layer: TokenLayer, probe: CapabilityProbe, options: { dataDir?: string } = {}): Promise<Inventory> {
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
          if (slot.token.initialized) {
            const identity = await readTokenIdentity(layer, slot);
            if (identity.kind === 'audit-key') entry.auditKeySha256 = identity.sha256;
            const chains = options.dataDir ? await findChainsForToken(options.dataDir, slot.token, identity) : [];
            const newest = newestChain(chains);
            if (newest) entry.chain = { startedBy: newest.genesis.ceremonyId, at: newest.genesis.time };
          }
        } catch (error) {
          entry.error = toErrorData(error);
        }
      }
      slots.push(entry);
    }
  }
  disambiguateUris(slots);
  return { modules, slots, takenAt: new Date().toISOString() };
}

/**
 * A URI the list shows must pick exactly the token on its row. Tokens that share label, manufacturer, model
 * and serial (two tpm2-pkcs11 tokens with one label: every serial is zeros) get slot-id=N added, which
 * picks one for as long as the slot keeps its number; the row's audit key is what tells them apart for good.
 */
function disambiguateUris(slots: SlotEntry[]): void {
  const count = new Map<string, number>();
  for (const s of slots) if (s.uri) count.set(s.uri, (count.get(s.uri) ?? 0) + 1);
  for (const s of slots) if (s.uri && (count.get(s.uri) ?? 0) > 1) s.uri = `${s.uri};slot-id=${s.slotId}`;
}
