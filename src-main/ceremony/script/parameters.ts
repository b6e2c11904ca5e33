// The values a room chooses for a script's parameters (from the UI or CLI flags), checked against the
// script's declarations before the ceremony starts, so a bad value never reaches a token.
import { AppError } from '../../errors.js';
import { checkQuorumShape, custodianNameProblem } from '../quorum/custodians.js';
import type { CeremonyScript } from './schema.js';

export type ParameterValue = string | number | boolean | string[];
export type ParameterValues = Record<string, ParameterValue>;

const REMEDY = 'Correct the value and start the ceremony again.';
const fail = (name: string, message: string) => new AppError('script-parameter', `parameters.${name}: ${message}`, REMEDY);

/** Check every value against the script; booleans left out are false, anything else left out is an error. */
export function resolveParameters(script: CeremonyScript, input: Readonly<Record<string, unknown>>): ParameterValues {
  const declared = Object.keys(script.parameters);
  for (const name of Object.keys(input)) {
    if (!Object.hasOwn(script.parameters, name)) {
      throw fail(name, `not a parameter of ${script.kind} (its parameters: ${declared.join(', ')})`);
    }
  }
  const out: ParameterValues = {};
  for (const [name, spec] of Object.entries(script.parameters)) {
    const value = input[name];
    if (value === undefined && spec.type !== 'boolean') throw fail(name, 'is missing');
    switch (spec.type) {
      case 'boolean':
        if (value !== undefined && typeof value !== 'boolean') throw fail(name, 'expected true or false');
        out[name] = value === true;
        break;
      case 'string': {
        if (typeof value !== 'string') throw fail(name, 'expected a string');
        const length = [...value].length;
        if (spec.minLength !== undefined && length < spec.minLength) throw fail(name, `must be at least ${spec.minLength} characters`);
        if (spec.maxLength !== undefined && length > spec.maxLength) throw fail(name, `must be at most ${spec.maxLength} characters`);
        if (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern})$`, 'u').test(value)) throw fail(name, `must match ${spec.pattern}`);
        out[name] = value;
        break;
      }
      case 'integer':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw fail(name, 'expected an integer');
        if (spec.min !== undefined && value < spec.min) throw fail(name, `must be at least ${spec.min}`);
        if (spec.max !== undefined && value > spec.max) throw fail(name, `must be at most ${spec.max}`);
        out[name] = value;
        break;
      case 'custodians': {
        if (!Array.isArray(value)) throw fail(name, 'expected a list of names');
        value.forEach((v, i) => {
          const problem = custodianNameProblem(v);
          if (problem) throw fail(`${name}[${i}]`, problem);
        });
        const names = value as string[];
        if (spec.min !== undefined && names.length < spec.min) throw fail(name, `${names.length} named; at least ${spec.min} are needed`);
        if (spec.max !== undefined && names.length > spec.max) throw fail(name, `${names.length} named; at most ${spec.max} are allowed`);
        out[name] = [...names];
        break;
      }
    }
  }
  if (script.roles.custodians.source === 'parameters') {
    try {
      checkQuorumShape(out.custodians as string[], out.threshold as number);
    } catch (e) {
      const err = e as AppError;
      throw new AppError('script-parameter', `parameters.${err.message}`, err.remedy);
    }
  }
  return out;
}
