/** One request frame in, one response frame out. USB and the HTTP connector both fit this. */
export interface YubiHsmTransport {
  send(frame: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
  /** For messages: "USB serial 1234567", "connector http://127.0.0.1:12345". */
  readonly description: string;
}
