// Overwriting secrets in memory, and what that does and does not achieve in JavaScript.
//
// wipe() zeroes the bytes of a Uint8Array (or Buffer) in place. That is all it can promise:
// - Strings (a PIN passed to C_Login, a passphrase typed in the UI, a share code) are immutable in JS;
//   they stay in the heap until the garbage collector reuses the memory. We keep secrets as bytes for as
//   long as we can and turn them into strings only at the last boundary that demands one.
// - The engine may have copied the bytes before we wipe (a compacting GC moves objects; Buffer.from()
//   copies; a Buffer from the pool shares its slab with other small buffers, which we zero too, harmlessly).
// - Node's crypto keeps its own copies inside OpenSSL (a KeyObject holding an Ed25519 seed, HKDF and scrypt
//   internals); those are freed by OpenSSL, not zeroed by us.
// - Swap and core dumps are the operating system's business (the air-gapped laptop should have no swap).
// So "wiped" means: no reference we hold still contains the secret, and the buffers we own are zeroed.
// It shortens the window; it does not close it.

/** Zero every given buffer in place. Accepts undefined so callers can wipe in `finally` unconditionally. */
export function wipe(...buffers: (Uint8Array | undefined | null)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Run `fn` with `secret`, then wipe `secret` whatever happens. */
export async function withWiped<T>(secret: Uint8Array, fn: (secret: Uint8Array) => Promise<T> | T): Promise<T> {
  try {
    return await fn(secret);
  } finally {
    wipe(secret);
  }
}

/** True when every byte is zero: lets tests (and paranoid callers) check a wipe happened. */
export function isWiped(buffer: Uint8Array): boolean {
  return buffer.every((b) => b === 0);
}
