// The step loop of the token ceremony commands (init-token, enrol-token): every step of the script in order,
// each with the input the command line gave for it, typing the confirmation word where the script asks for
// one. Quorum steps are approved by the first M custodians with the share files just written; the shares
// step writes every waiting custodian's file into --shares-out.
import { join } from 'node:path';
import { shareFileName } from '../ceremony/actions/share-folder.js';
import type { CeremonyView, InterruptedCeremony } from '../ceremony/engine/index.js';
import type { CeremonyService } from '../ceremony/engine/service.js';

export interface CeremonySteps {
  custodians: readonly string[];
  threshold: number;
  sharesOut: string;
  out: string;
  insecurePlain: boolean;
  /** Custodian to passphrase (empty with insecurePlain). */
  passphrases: ReadonlyMap<string, string>;
  module: string;
  token: { slotId: string } | { uri: string };
  administrator: string;
  witnesses: readonly string[];
  /** The input of the command's own steps, by action (init-token, check-current-pins). */
  inputs: Readonly<Record<string, Record<string, unknown>>>;
  /** A token joining a security domain: the domain's share files presented, which also approve the quorum steps. */
  joinShares?: readonly { shareFile: string; passphrase?: string }[];
}

/** A line per ceremony the service just recorded as interrupted, with what its shares are now. */
export function sayInterrupted(interrupted: readonly InterruptedCeremony[], say: (line: string) => void): void {
  for (const i of interrupted.filter((x) => x.newlyRecorded)) {
    say(`Recorded ceremony ${i.ceremonyId} (${i.kind}) as interrupted${i.sharesVoid.length > 0 ? `; its shares for ${i.sharesVoid.join(', ')} are void` : ''}${i.sharesOpenToken ? `; ${i.sharesOpenToken.wayOut}` : ''}.`);
  }
}

/**
 * Run the ceremony from `view` to its end. `seen` gets every newer view, so a caller that catches a failure
 * knows the step it happened at.
 */
export async function runCeremonySteps(service: CeremonyService, view: CeremonyView, c: CeremonySteps, say: (line: string) => void, seen: (view: CeremonyView) => void): Promise<CeremonyView> {
  const id = view.ceremonyId;
  const perform = async (stepId: string, input: Record<string, unknown>) => {
    view = (await service.perform(id, stepId, input)).view;
    seen(view);
  };
  const shareFile = (custodian: string) => join(c.sharesOut, shareFileName(custodian));
  while (view.status === 'running' && view.currentStepId !== null) {
    const currentId: string = view.currentStepId;
    const step: CeremonyView['steps'][number] | undefined = view.steps.find((s) => s.id === currentId);
    if (!step) break;
    const confirm: Record<string, string> = step.confirm ? { confirm: step.confirm.word } : {};
    const passphrase = (custodian: string) => (c.insecurePlain ? {} : { passphrase: c.passphrases.get(custodian) });
    if (step.approvals === 'quorum' && c.joinShares) {
      for (const share of c.joinShares) {
        await perform(step.id, { ...share, ...confirm });
        say(`  ${step.id}: ${share.shareFile} presented`);
        if (view.currentStepId !== step.id) break;
      }
    } else if (step.approvals === 'quorum') {
      for (const custodian of c.custodians.slice(0, c.threshold)) {
        await perform(step.id, { shareFile: shareFile(custodian), ...passphrase(custodian), ...confirm });
        say(`  ${step.id}: ${custodian} approved`);
      }
    } else if (step.action === 'distribute-shares') {
      for (const custodian of [...(view.pendingCustodians ?? c.custodians)]) {
        const share = c.insecurePlain ? { insecurePlain: true } : passphrase(custodian);
        await perform(step.id, { custodian, ...share, destinationDir: c.sharesOut, ...confirm });
        say(`  ${step.id}: wrote ${shareFile(custodian)}`);
      }
    } else {
      await perform(step.id, { ...stepInput(step.action, c), ...confirm });
    }
    say(`  ${step.id}: ${step.title} - done`);
  }
  return view;
}

/** What the command line gives a step that is neither a quorum step nor the shares step. */
function stepInput(action: string, c: CeremonySteps): Record<string, unknown> {
  switch (action) {
    case 'record-participants':
      return { administrator: c.administrator, witnesses: c.witnesses };
    case 'select-token':
      return 'uri' in c.token ? { uri: c.token.uri } : { moduleId: c.module, slotId: c.token.slotId };
    case 'witness-sign-off':
      return { witnesses: c.witnesses.map((name) => ({ name, statement: 'Signed off on the command line.' })) };
    case 'export-bundle':
      return { destinationDir: c.out };
    default:
      return c.inputs[action] ?? {};
  }
}
