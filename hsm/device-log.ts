// A device's own audit log, as plain data for the transcript, for drivers whose device keeps one (the
// YubiHSM 2). The transcript copies the new entries after each token action, so the device's record and
// ours can be cross-checked entry by entry.

/** The last device log entry already copied: where the next copy continues the digest chain. */
export interface DeviceLogCursor {
  serial: string;
  number: number;
  digestHex: string;
}

export interface DeviceLogEntryData {
  number: number;
  command: number;
  commandName: string;
  length: number;
  sessionKey: number;
  targetKey: number;
  secondKey: number;
  result: number;
  tick: number;
  digestHex: string;
}

export interface DeviceLogSlice {
  model: string;
  serial: string;
  /** The cursor the entries continue from (their chain was verified from it), or null for a first copy. */
  previous: DeviceLogCursor | null;
  /** Entries after `previous`, oldest first, digest chain verified. */
  entries: DeviceLogEntryData[];
  /** Entries between `previous` and the first one here that the device no longer holds (the log wrapped). */
  gap?: { after: number; resumesAt: number };
  /** The device's counters of boots and authentications it could not log (log full). */
  unloggedBoot: number;
  unloggedAuth: number;
  /** Entries up to this number were marked consumed on the device (SET_LOG_INDEX), freeing their room. */
  consumedThrough?: number;
}
