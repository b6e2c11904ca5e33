// What the room needs to know before a ceremony starts, derived from the script itself so the preview can
// never drift from what the steps will ask for: what to bring (from the actions), who must be there (from
// the roles), and whether it may start at all on a laptop that is online.
import { AppError } from '../../errors.js';
import type { ActionName } from './actions.js';
import type { CeremonyScript } from './schema.js';

export interface BringItem {
  /** What to bring, in words the administrator reads out. */
  item: string;
  /** The step ids that will ask for it. */
  steps: string[];
}

export interface RolesPreview {
  administrator: string;
  custodians: { description: string; source: 'parameters' | 'enrolment' | 'domain' };
  witnesses: { description: string; min: number };
}

/**
 * What each action makes the room bring. Actions missing here need nothing brought (a new action without
 * an entry shows nothing rather than failing the preview).
 */
const BRINGS: Partial<Record<ActionName, (script: CeremonyScript) => string>> = {
  'select-token': (s) =>
    s.roles.custodians.source === 'enrolment' ? 'The token the custodians were enrolled on' : s.steps.some((st) => st.action === 'check-current-pins') ? "The token, initialized with its vendor's tool" : 'The blank token to initialize',
  'check-current-pins': () => "The token's current user PIN (and its SO PIN, if that is to change too), as the vendor's tool set them",
  'distribute-shares': (s) => (rotates(s) ? 'One empty USB stick per new custodian, for their share file (and paper for their share sheet)' : 'One empty USB stick per custodian, for their share file (and paper for their share sheet)'),
  'join-domain': () => "Enough custodians of the security domain (its threshold), each with their share file on their USB stick and its passphrase",
  'quorum-login': (s) => `Enough ${rotates(s) ? 'current ' : ''}custodians (the enrolled threshold), each with their share file on their USB stick and its passphrase, or their share sheet`,
  'write-chain-head': (s) =>
    !stepUsesQuorum(s, 'write-chain-head')
      ? ''
      : s.roles.custodians.source === 'parameters'
        ? 'The custodians (the threshold) with their new share files and passphrases, to approve the seal'
        : rotates(s)
          ? 'The new custodians (the new threshold) with the share files they receive in this ceremony and their passphrases, to approve the seal'
          : 'Enough custodians (the enrolled threshold) with their share files and passphrases',
  'load-import-parameters': () => 'The USB stick with the cloud\'s import parameters (AWS: get-parameters-for-import JSON or the console download; Google Cloud KMS: the import job\'s JSON; Azure: the key exchange key\'s JSON; Vault: transit\'s wrapping key)',
  'export-wrapped-key': () => 'An empty USB stick for the wrapped key material (the import bundle)',
  'export-bundle': () => 'Removable media for the transcript bundle',
  'record-participants': (s) => (s.roles.witnesses.min > 0 ? `At least ${s.roles.witnesses.min} witness${s.roles.witnesses.min === 1 ? '' : 'es'}` : ''),
};

/** rotate-custodians: the current custodians open the token, new ones receive shares and seal. */
const rotates = (script: CeremonyScript) => script.steps.some((st) => st.action === 'rotate-pins');

function stepUsesQuorum(script: CeremonyScript, action: ActionName): boolean {
  return script.steps.some((st) => st.action === action && st.approvals === 'quorum');
}

/** The things to bring, in the order the steps first need them; one line per distinct thing. */
export function bringList(script: CeremonyScript): BringItem[] {
  const out: BringItem[] = [];
  for (const step of script.steps) {
    const what = BRINGS[step.action]?.(script) ?? '';
    if (!what) continue;
    const seen = out.find((b) => b.item === what);
    if (seen) seen.steps.push(step.id);
    else out.push({ item: what, steps: [step.id] });
  }
  return out;
}

export function rolesPreview(script: CeremonyScript): RolesPreview {
  const { roles } = script;
  return {
    administrator: roles.administrator.description,
    custodians: { description: roles.custodians.description, source: roles.custodians.source },
    witnesses: { description: roles.witnesses.description, min: roles.witnesses.min },
  };
}

/**
 * A ceremony does not start on a laptop that is online unless it is a rehearsal (the script says so, or the
 * room marked this run as one; the transcript then records it). Enforced here, in main, whatever the UI shows.
 */
export function assertMayStart(script: Pick<CeremonyScript, 'rehearsal' | 'kind'>, rehearsal: boolean | undefined, airGap: { offline: boolean; interfaces: { name: string; addresses: string[] }[]; error?: string }): void {
  if (airGap.offline || script.rehearsal || rehearsal === true) return;
  const seen = airGap.interfaces.map((i) => `${i.name} (${i.addresses.join(', ')})`).join('; ') || airGap.error || 'the network check could not tell';
  throw new AppError(
    'airgap-online',
    `the laptop is not offline (${seen}): a ${script.kind} ceremony cannot start`,
    'Unplug every network cable and switch off Wi-Fi and Bluetooth until the banner says offline, or mark this run as a rehearsal (the transcript will say so).',
  );
}
