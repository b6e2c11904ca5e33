// Token work runs one call at a time: C_InitToken fails while any session is open, and a capability probe
// racing a ceremony step would interleave sessions on the same token.
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(task, task);
    // Keep the chain alive whatever the task did; the caller still sees its own failure.
    this.tail = next.catch(() => undefined);
    return next;
  }
}
