// Ceremony scripts: one import for the public API. See docs/ceremony-scripts.md.
export { ACTION_NAMES, ACTIONS, actionSpec, isActionName, type ActionName, type ActionSpec } from './actions.js';
export { loadScriptFile, parseScript, ScriptError, type LoadedScript, type LocatedProblem } from './load.js';
export { resolveParameters, type ParameterValue, type ParameterValues } from './parameters.js';
export { BUILTIN_PLACEHOLDERS, fillPlaceholders } from './rules.js';
export { SCRIPT_FORMAT, type CeremonyScript, type ScriptParameter, type ScriptStep } from './schema.js';
