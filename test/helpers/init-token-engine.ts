// init-token through the ceremony engine (CeremonyService), as the tests of later ceremonies need it first:
// every step of ceremonies/init-token.yaml in order, with the inputs the room would give.
import { join } from 'node:path';
import type { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';

export interface InitTokenRun {
  tokenLabel: string;
  /** Custodian name -> passphrase of their share file, in the order shares are handed out. */
  custodians: Record<string, string>;
  threshold: number;
  /** The select-token step's input: { moduleId, slotId } or { uri }. */
  token: Record<string, unknown>;
  /** Where the share files go (<custodian>.share), and the transcript bundle. */
  sharesDir: string;
  bundleDir: string;
  /** Who approves the seal; default the first `threshold` custodians. */
  sealers?: string[];
  administrator?: string;
  witnesses?: { name: string; statement?: string }[];
}

/** Run init-token to its end and return the last view (the caller checks its status). */
export async function runInitToken(service: CeremonyService, o: InitTokenRun): Promise<CeremonyView> {
  let view = await service.start({ script: 'init-token', parameters: { tokenLabel: o.tokenLabel, custodians: Object.keys(o.custodians), threshold: o.threshold } });
  const id = view.ceremonyId;
  const step = async (s: string, input: Record<string, unknown>) => (view = (await service.perform(id, s, input)).view);
  const witnesses = o.witnesses ?? [{ name: 'wendy' }];
  await step('participants', { administrator: o.administrator ?? 'admin', witnesses: witnesses.map((w) => w.name) });
  await step('airgap', {});
  await step('token', o.token);
  await step('secret', {});
  for (const [custodian, passphrase] of Object.entries(o.custodians)) await step('shares', { custodian, passphrase, destinationDir: o.sharesDir });
  for (const s of ['prove', 'init', 'pins', 'audit-key', 'genesis', 'enrol']) await step(s, s === 'init' ? { confirm: 'INITIALIZE' } : {});
  await step('sign-off', { witnesses });
  for (const c of o.sealers ?? Object.keys(o.custodians).slice(0, o.threshold)) await step('head', { shareFile: join(o.sharesDir, `${c}.share`), passphrase: o.custodians[c] });
  return step('export', { destinationDir: o.bundleDir });
}
