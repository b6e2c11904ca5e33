// Every object a device holds, as the device itself describes it, for drivers whose device has objects a
// PKCS#11 view leaves out (the YubiHSM 2: authentication keys, templates, OTP keys, the opaque object holding
// the token label). audit-token lists them beside the PKCS#11 view and destroy-key proves with them that a
// key is gone. Plain data (no bigint, no handle of a closed session) so it crosses the hsm-host boundary.

export interface DeviceObject {
  /** The device's object type, in its words: 'authentication-key', 'asymmetric-key', 'opaque', ... */
  type: string;
  /** The device's type code, with `id` the object's address on the device. */
  typeCode: number;
  id: number;
  label: string;
  /** The device's algorithm name ('aes256', 'ec-p256', 'aes128-yubico-authentication', ...). */
  algorithm: string;
  /** Capability names, as the device's documentation spells them (lower-case, dashes). */
  capabilities: string[];
  /** What an authentication or wrap key may hand on to what it creates or imports. */
  delegatedCapabilities: string[];
  /** The domains (1..16) the object belongs to. */
  domains: number[];
  /** How the object came to be: 'generated', 'imported', 'imported-wrapped' (or a combination). */
  origin: string;
  sequence: number;
  size: number;
  /** The handles under which this session's PKCS#11 view shows the object (two for a key pair), [] if none. */
  handles: string[];
}

/** What a device answers about one object address: its description, or null when it holds no such object. */
export interface DeviceObjectQuery {
  id?: number;
  label?: string;
}
