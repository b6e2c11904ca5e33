// The one path every IPC call takes after the sender check: validate the payload against the contract,
// run the handler, validate what it returns, and turn every failure into data. Electron-free, so the
// Playwright harness bridges exactly this function into Chromium.
import type { z } from 'zod';
import { contract, type MethodName, type Request, type Response, type Result } from '../../src-preload/contract.js';
import { INTERNAL_REMEDY, toErrorData } from '../errors.js';

export type Handlers = { [M in MethodName]: (request: z.output<(typeof contract)[M]['request']>) => Promise<Response<M>> | Response<M> };

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(contract, name);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : 'request';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

export async function dispatch<M extends MethodName>(handlers: Handlers, method: M, payload: unknown): Promise<Result<Response<M>>> {
  const spec = contract[method];
  const parsed = spec.request.safeParse(payload ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      error: {
        code: 'INVALID_REQUEST',
        message: `${method}: ${describeIssues(parsed.error)}`,
        remedy: 'Correct the named field and try again.',
      },
    };
  }
  try {
    const handler = handlers[method] as (request: unknown) => Promise<unknown> | unknown;
    const value = await handler(parsed.data);
    const checked = spec.response.safeParse(value);
    if (!checked.success) {
      return {
        ok: false,
        // The handler ran to its end: whatever it did happened, only its answer is withheld.
        error: { code: 'INTERNAL', message: `${method} produced an answer outside the contract: ${describeIssues(checked.error)}`, remedy: INTERNAL_REMEDY },
      };
    }
    return { ok: true, value: checked.data as Response<M> };
  } catch (error) {
    return { ok: false, error: toErrorData(error) };
  }
}

export type { Request };
