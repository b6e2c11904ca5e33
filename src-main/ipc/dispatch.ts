// The one path every IPC call takes after the sender check: validate the payload against the contract,
// run the handler, validate what it returns, and turn every failure into data. Electron-free, so the
// Playwright harness bridges exactly this function into Chromium.
import type { z } from 'zod';
import { contract, type ErrorData, type MethodName, type Request, type Response, type Result } from '../../src-preload/contract.js';
import { TokenError } from '../../hsm/errors.js';
import { AppError } from '../errors.js';

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

export function toErrorData(error: unknown): ErrorData {
  if (error instanceof TokenError || error instanceof AppError) return error.toData();
  // Anything else is a bug on our side: say so without leaking internals such as file paths or stacks.
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: 'INTERNAL',
    message: `Unexpected failure in the main process: ${message}`,
    remedy: 'Note what you were doing and report it; the ceremony state was not changed by this call.',
  };
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
        error: { code: 'INTERNAL', message: `${method} produced an answer outside the contract: ${describeIssues(checked.error)}` },
      };
    }
    return { ok: true, value: checked.data as Response<M> };
  } catch (error) {
    return { ok: false, error: toErrorData(error) };
  }
}

export type { Request };
