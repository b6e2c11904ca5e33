// Rules of a ceremony script that no single field can express. Each problem names the YAML path it is
// about, so the loader can add the line number.
import { ACTIONS, type ActionName } from './actions.js';
import type { CeremonyScript } from './schema.js';

export type YamlPath = (string | number)[];

export interface ScriptProblem {
  path: YamlPath;
  message: string;
  /** The problem is about a key itself (an unknown key), not its value: point at the key's line. */
  atKey?: boolean;
}

/** Placeholders every script may use besides its parameters. */
export const BUILTIN_PLACEHOLDERS = ['ceremonyId'] as const;
export const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export function checkScriptRules(script: CeremonyScript): ScriptProblem[] {
  const problems: ScriptProblem[] = [];
  const params = script.parameters;
  const paramNames = Object.keys(params);

  for (const [name, p] of Object.entries(params)) {
    if (p.type === 'string') {
      if (p.pattern !== undefined) {
        try {
          new RegExp(p.pattern, 'u');
        } catch {
          problems.push({ path: ['parameters', name, 'pattern'], message: 'is not a valid regular expression' });
        }
      }
      if (p.minLength !== undefined && p.maxLength !== undefined && p.minLength > p.maxLength) {
        problems.push({ path: ['parameters', name, 'minLength'], message: `${p.minLength} is more than maxLength ${p.maxLength}` });
      }
    }
    if ((p.type === 'integer' || p.type === 'custodians') && p.min !== undefined && p.max !== undefined && p.min > p.max) {
      problems.push({ path: ['parameters', name, 'min'], message: `${p.min} is more than max ${p.max}` });
    }
  }

  if (script.roles.custodians.source === 'parameters') {
    if (params.custodians?.type !== 'custodians') {
      problems.push({ path: ['parameters'], message: "needs a 'custodians' parameter of type custodians, because roles.custodians.source is parameters" });
    }
    if (params.threshold?.type !== 'integer') {
      problems.push({ path: ['parameters'], message: "needs a 'threshold' parameter of type integer, because roles.custodians.source is parameters" });
    }
  }

  const checkPlaceholders = (path: YamlPath, value: string) => {
    for (const m of value.matchAll(PLACEHOLDER)) {
      const name = m[1] ?? '';
      if (!paramNames.includes(name) && !(BUILTIN_PLACEHOLDERS as readonly string[]).includes(name)) {
        problems.push({ path, message: `unknown placeholder {{${name}}}; use a parameter (${[...paramNames, ...BUILTIN_PLACEHOLDERS].join(', ')})` });
      }
    }
  };
  checkPlaceholders(['title'], script.title);
  if (script.description !== undefined) checkPlaceholders(['description'], script.description);

  const firstId = new Map<string, number>();
  let sharesHandedOut = script.roles.custodians.source !== 'parameters';
  script.steps.forEach((step, i) => {
    const at = (...rest: YamlPath): YamlPath => ['steps', i, ...rest];
    const first = firstId.get(step.id);
    if (first !== undefined) problems.push({ path: at('id'), message: `'${step.id}' is already the id of steps[${first}]` });
    else firstId.set(step.id, i);

    const spec = ACTIONS[step.action as ActionName];
    if (spec.irreversible && step.confirm === undefined) {
      problems.push({ path: at('confirm'), message: `is missing: action ${step.action} cannot be undone, so the step needs a confirmation word` });
    }
    if (spec.quorum === 'required' && step.approvals !== 'quorum') {
      problems.push({ path: at('approvals'), message: `action ${step.action} needs approvals: quorum` });
    }
    if (spec.quorum === 'never' && step.approvals === 'quorum') {
      problems.push({ path: at('approvals'), message: `action ${step.action} does not take a quorum; use approvals: none` });
    }
    else if (step.approvals === 'quorum' && !sharesHandedOut) {
      problems.push({ path: at('approvals'), message: 'a quorum needs shares, and no earlier step has action distribute-shares' });
    }
    if (step.action === 'distribute-shares') sharesHandedOut = true;

    checkPlaceholders(at('title'), step.title);
    checkPlaceholders(at('instructions'), step.instructions);
    if (step.confirm) checkPlaceholders(at('confirm', 'prompt'), step.confirm.prompt);
  });
  return problems;
}

/** Replace {{name}} placeholders with values (the engine calls this with the ceremony's parameters). */
export function fillPlaceholders(text: string, values: Readonly<Record<string, string | number | boolean | readonly string[]>>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => {
    const v = values[name];
    if (v === undefined) return whole;
    return Array.isArray(v) ? v.join(', ') : String(v);
  });
}
