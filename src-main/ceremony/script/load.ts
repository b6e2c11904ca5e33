// Loading a ceremony script: YAML text -> strict schema -> cross-field rules, with every problem reported as
// "<yaml path>: <what is wrong> (line N)". The SHA-256 is taken over the exact bytes read, so the hash in
// the transcript is the hash of the file anyone can re-check with `sha256sum`.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { AppError } from '../../errors.js';
import { FILE_CAPS, readBounded } from '../../files/read-bounded.js';
import { ACTION_NAMES } from './actions.js';
import { checkScriptRules, type ScriptProblem, type YamlPath } from './rules.js';
import { scriptSchema, type CeremonyScript } from './schema.js';

export const MAX_SCRIPT_BYTES = FILE_CAPS.ceremonyScript;

export interface LoadedScript {
  script: CeremonyScript;
  /** SHA-256 of the exact file bytes, lowercase hex. */
  sha256: string;
  /** Where it came from (file name or a label), for messages and the transcript. */
  source: string;
}

export interface LocatedProblem {
  /** e.g. steps[3].confirm.word; empty for the whole file. */
  path: string;
  message: string;
  line?: number;
}

/** A script that cannot be used. `problems` lists every problem found; the message joins them. */
export class ScriptError extends AppError {
  readonly problems: LocatedProblem[];
  readonly source: string;
  constructor(source: string, problems: LocatedProblem[]) {
    super('script-invalid', `${source}: ${problems.map(formatProblem).join('; ')}`, 'Correct the ceremony script (or use the one shipped with the app) and load it again.');
    this.name = 'ScriptError';
    this.problems = problems;
    this.source = source;
  }
}

export function formatProblem(p: LocatedProblem): string {
  const where = p.path === '' ? '' : `${p.path}: `;
  return `${where}${p.message}${p.line === undefined ? '' : ` (line ${p.line})`}`;
}

/** steps[3].confirm.word */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  int: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function issueProblems(issue: z.core.$ZodIssue): ScriptProblem[] {
  const path = issue.path as YamlPath;
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key', atKey: true }));
    case 'invalid_type':
      if (input === undefined) return [{ path, message: 'is missing' }];
      if (input === null) return [{ path, message: `is empty; expected ${TYPE_NAMES[issue.expected] ?? issue.expected}` }];
      return [{ path, message: `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}` }];
    case 'invalid_value': {
      if (path[path.length - 1] === 'action' && path[0] === 'steps') {
        if (typeof input !== 'string') return [{ path, message: 'expected a string' }];
        return [{ path, message: `unknown action '${input}'; known actions: ${ACTION_NAMES.join(', ')}` }];
      }
      const values = issue.values.map((v) => JSON.stringify(v));
      return [{ path, message: values.length === 1 ? `expected ${values[0]}` : `expected one of ${values.join(', ')}` }];
    }
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (disc !== undefined) {
        const holder = input as Record<string, unknown> | undefined;
        if (holder && typeof holder === 'object' && holder[disc] === undefined) return [{ path, message: 'is missing' }];
        return [{ path, message: `expected one of ${(options ?? []).map((o) => String(o)).join(', ')}` }];
      }
      return [{ path, message: 'is not valid' }];
    }
    case 'too_small': {
      const n = Number(issue.minimum);
      if (issue.origin === 'string') return [{ path, message: n === 1 ? 'must not be empty' : `must be at least ${n} characters` }];
      if (issue.origin === 'array') return [{ path, message: `must have at least ${n} item${n === 1 ? '' : 's'}` }];
      return [{ path, message: `must be at least ${n}` }];
    }
    case 'too_big': {
      const n = Number(issue.maximum);
      if (issue.origin === 'string') return [{ path, message: `must be at most ${n} characters` }];
      if (issue.origin === 'array') return [{ path, message: `must have at most ${n} items` }];
      return [{ path, message: `must be at most ${n}` }];
    }
    case 'invalid_key':
      return [{ path, message: issue.issues[0]?.message ?? 'is not a valid key', atKey: true }];
    default:
      return [{ path, message: issue.message }];
  }
}

function lineOf(doc: Document, counter: LineCounter, problem: ScriptProblem): number | undefined {
  const path = [...problem.path];
  if (problem.atKey && path.length > 0) {
    const key = path[path.length - 1];
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      if (range) return counter.linePos(range[0]).line;
    }
  }
  // The node itself, or (for a missing field) the nearest ancestor that exists.
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return counter.linePos(range[0]).line;
  }
  return undefined;
}

/** Parse and check a script from its bytes. Throws ScriptError listing every problem. */
export function parseScript(bytes: Uint8Array, source = 'script'): LoadedScript {
  const fail = (problems: LocatedProblem[]) => new ScriptError(source, problems);
  if (bytes.length > MAX_SCRIPT_BYTES) throw fail([{ path: '', message: `${bytes.length} bytes; a script is at most ${MAX_SCRIPT_BYTES}` }]);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail([{ path: '', message: 'not UTF-8 text' }]);
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2' });
  // Only the first YAML syntax problem: the ones after it are usually its echoes.
  const yamlProblem = doc.errors[0] ?? doc.warnings[0];
  if (yamlProblem) {
    const line = yamlProblem.linePos?.[0]?.line ?? counter.linePos(yamlProblem.pos[0]).line;
    throw fail([{ path: '', message: `YAML: ${yamlProblem.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`, line }]);
  }
  if (!isMap(doc.contents)) throw fail([{ path: '', message: doc.contents === null ? 'the file is empty' : 'expected a mapping at the top level' }]);
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  // In file order, so the list reads top to bottom like the file.
  const locate = (problems: ScriptProblem[]): LocatedProblem[] =>
    problems
      .map((p) => {
        const line = lineOf(doc, counter, p);
        return line === undefined ? { path: formatPath(p.path), message: p.message } : { path: formatPath(p.path), message: p.message, line };
      })
      .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  const parsed = scriptSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw fail(locate(parsed.error.issues.flatMap((i) => issueProblems(i as z.core.$ZodIssue))));
  const ruleProblems = checkScriptRules(parsed.data);
  if (ruleProblems.length > 0) throw fail(locate(ruleProblems));
  return { script: parsed.data, sha256: createHash('sha256').update(bytes).digest('hex'), source };
}

/** Read a script file from disk and parse it. The source in messages is the file name. */
export async function loadScriptFile(path: string): Promise<LoadedScript> {
  const bytes = await readBounded(path, { what: 'ceremony script', cap: MAX_SCRIPT_BYTES, remedy: 'Check the path of the ceremony script.', code: 'script-unreadable' });
  return parseScript(bytes, basename(path));
}
