import { KMS_WRAPPING_ALGORITHMS } from '../../hsm/types.js';
import type { Inventory, SlotEntry } from '../tokens/inventory.js';

function tokenState(slot: SlotEntry): string {
  if (!slot.token) return 'no token';
  if (!slot.token.initialized) return 'blank';
  const notes = ['initialized'];
  if (slot.token.userPinLocked) notes.push('user PIN locked');
  if (slot.token.soPinLocked) notes.push('SO PIN locked');
  if (!slot.token.userPinInitialized) notes.push('user PIN not set');
  return notes.join(', ');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows.map((r) => r.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd()).join('\n');
}

/** The same inventory as the home screen, as plain text. */
export function formatInventory(inventory: Inventory): string {
  const lines: string[] = ['Modules:'];
  for (const m of inventory.modules) {
    const what = m.loaded ? `loaded (${m.library?.manufacturer ?? '?'} ${m.library?.libraryVersion ?? ''})`.replace(' )', ')') : `NOT LOADED: ${m.error?.message ?? ''}`;
    lines.push(`  ${m.path}: ${what}`);
  }
  lines.push('', 'Tokens:');
  const header = ['SLOT', 'LABEL', 'MANUFACTURER', 'MODEL', 'SERIAL', 'STATE', ...KMS_WRAPPING_ALGORITHMS];
  const rows = inventory.slots
    .filter((s) => s.token)
    .map((s) => [
      s.slotId,
      s.token!.label,
      s.token!.manufacturer,
      s.token!.model,
      s.token!.serial,
      tokenState(s),
      ...KMS_WRAPPING_ALGORITHMS.map((a) => {
        const c = s.capabilities.find((x) => x.algorithm === a);
        return !c ? '-' : !c.supported ? 'no' : c.probed ? 'yes' : 'listed?';
      }),
    ]);
  lines.push(rows.length > 0 ? table([header, ...rows]).replace(/^/gm, '  ') : '  (none)');
  if (inventory.slots.some((s) => s.capabilities.some((c) => c.supported && !c.probed))) {
    lines.push('', "  listed? = the token lists the mechanism but was not probed (blank token, or no session); initialize it to know.");
  }
  const problems = inventory.slots.filter((s) => s.error);
  for (const s of problems) lines.push(`  slot ${s.slotId}: ${s.error!.message}`);
  return `${lines.join('\n')}\n`;
}
