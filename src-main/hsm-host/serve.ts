// The host side of the channel: one request in, one TokenLayer call, one reply out with the same id.
// Kept apart from host-main.ts (which owns the process) so the dispatch is plain code over any channel.
import { CodedError } from '../../hsm/errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import { requestId, requestProblem, type HostErrorData, type HostReply, type HostRequest } from './protocol.js';

export function errorToData(error: unknown): HostErrorData {
  if (error instanceof CodedError) return { kind: 'token', ...error.toData() };
  if (error instanceof Error) return { kind: 'other', name: error.name, message: error.message };
  return { kind: 'other', name: 'Error', message: String(error) };
}

/** Run one request against the layer and answer it; a request that is not one is answered with why, never run. */
export async function answer(layer: TokenLayer, message: unknown): Promise<HostReply | null> {
  const id = requestId(message);
  // Without an id there is nobody to answer; the proxy never sends such a message.
  if (id === null) return null;
  const problem = requestProblem(message);
  if (problem) return { id, ok: false, error: { kind: 'token', ...problem } };
  const { method, args } = message as HostRequest;
  // Looked up in the fixed table (requestProblem) first, so `method` is one of the interface's own names.
  const fn = layer[method] as ((...a: unknown[]) => Promise<unknown>) | undefined;
  if (typeof fn !== 'function') {
    return { id, ok: false, error: { kind: 'token', code: 'CKR_FUNCTION_NOT_SUPPORTED', message: `This token driver has no ${method}.`, remedy: 'Use a token whose driver offers it.' } };
  }
  try {
    return { id, ok: true, value: await fn.apply(layer, args) };
  } catch (error) {
    return { id, ok: false, error: errorToData(error) };
  }
}
