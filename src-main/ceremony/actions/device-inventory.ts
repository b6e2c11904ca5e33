// audit-token on a device whose objects a PKCS#11 view does not all show (the YubiHSM 2): every object the
// device lists (LIST OBJECTS, GET OBJECT INFO: type, id, label, algorithm, capabilities, domains, origin)
// is given its role. The authentication keys init-token made (admin = SO, operator = user) and the opaque
// object holding the token label are the app's; every other object stands behind one or two PKCS#11 handles
// and takes the role audit-token gave those (audit key, chain head, a recorded key). What is left (another
// authentication key, a template, an OTP key) was made by no ceremony: a finding. A recorded key must also
// carry the device's own word for how it came to be: generate-key made it inside the device ('generated').
// The login sees only its own domains; every object the app makes, and every authentication key it puts,
// is in domain 1, so an object elsewhere could only come from outside: the domains seen are recorded.
import type { DeviceObject } from '../../../hsm/device-objects.js';
import type { TokenLayer } from '../../../hsm/token.js';
import type { SessionHandle } from '../../../hsm/types.js';
import { ALL_CAPABILITIES, capabilityNames } from '../../../hsm/yubihsm/constants.js';
import { ADMIN_AUTH_KEY_ID, ADMIN_AUTH_KEY_LABEL, ADMIN_CAPABILITIES, DOMAINS, LABEL_OBJECT_ID, LABEL_OBJECT_LABEL, OBJECT_CAPABILITIES, OPERATOR_AUTH_KEY_ID, OPERATOR_AUTH_KEY_LABEL, OPERATOR_CAPABILITIES } from '../../../hsm/yubihsm/token-layer-map.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { KeyRecord } from './key-history.js';

export interface DeviceFinding {
  kind: 'unrecorded-object' | 'key-differs' | 'transcript-objects';
  message: string;
}

export interface DeviceInventory {
  objects: JsonObject[];
  findings: DeviceFinding[];
}

const words = (names: string[]) => names.map((n) => n.toLowerCase().replace(/_/g, '-'));
const APP_DOMAINS = [...Array(16).keys()].map((i) => i + 1).filter((d) => DOMAINS & (1 << (d - 1)));

/** The app's two authentication keys: what init-token gave each (a key may carry less, put by an older version, never more). */
const AUTH_KEYS = new Map([
  [ADMIN_AUTH_KEY_ID, { label: ADMIN_AUTH_KEY_LABEL, role: 'admin authentication key (the SO PIN, derived from the custodians\' secret)', capabilities: new Set(words(capabilityNames(ADMIN_CAPABILITIES))), delegated: new Set(words(capabilityNames(ALL_CAPABILITIES))) }],
  [OPERATOR_AUTH_KEY_ID, { label: OPERATOR_AUTH_KEY_LABEL, role: 'operator authentication key (the user PIN, derived from the custodians\' secret)', capabilities: new Set(words(capabilityNames(OPERATOR_CAPABILITIES))), delegated: new Set(words(capabilityNames(OBJECT_CAPABILITIES))) }],
]);

export const deviceObjectName = (o: Pick<DeviceObject, 'type' | 'id' | 'label' | 'algorithm'>) => `${o.type} 0x${o.id.toString(16).padStart(4, '0')} '${o.label}' (${o.algorithm})`;

const record = (o: DeviceObject, role: string): JsonObject => {
  const { handles: _handles, ...rest } = o;
  return { ...rest, role };
};

/**
 * The device's own inventory beside the PKCS#11 view, or null when the layer has none (PKCS#11 tokens: their
 * view is the whole token). `roleOf` is the role audit-token gave a PKCS#11 handle, `keyOf` the recorded key
 * behind a handle.
 */
export async function deviceInventory(layer: TokenLayer, session: SessionHandle, roleOf: (handle: string) => string | undefined, keyOf: (handle: string) => KeyRecord | undefined): Promise<DeviceInventory | null> {
  const listed = layer.deviceObjects ? await layer.deviceObjects(session) : null;
  return listed ? classifyDeviceObjects(listed, roleOf, keyOf) : null;
}

/** The role of each listed device object and the findings, from the list alone (no device access). */
export function classifyDeviceObjects(listed: readonly DeviceObject[], roleOf: (handle: string) => string | undefined, keyOf: (handle: string) => KeyRecord | undefined): DeviceInventory {
  const objects: JsonObject[] = [];
  const findings: DeviceFinding[] = [];
  for (const o of listed) {
    const outside = o.domains.filter((d) => !APP_DOMAINS.includes(d));
    if (outside.length > 0) findings.push({ kind: 'unrecorded-object', message: `${deviceObjectName(o)} belongs to domain(s) ${outside.join(', ')}, where no ceremony puts anything` });
    const auth = o.type === 'authentication-key' ? AUTH_KEYS.get(o.id) : undefined;
    if (auth && o.label === auth.label) {
      const extra = [...o.capabilities.filter((c) => !auth.capabilities.has(c)), ...o.delegatedCapabilities.filter((c) => !auth.delegated.has(c)).map((c) => `${c} (delegated)`)];
      if (extra.length > 0) findings.push({ kind: 'transcript-objects', message: `${deviceObjectName(o)} carries capabilities init-token never gives it: ${extra.join(', ')}` });
      objects.push(record(o, auth.role));
      continue;
    }
    if (o.type === 'opaque' && o.id === LABEL_OBJECT_ID && o.label === LABEL_OBJECT_LABEL) {
      objects.push(record(o, 'token label (set by init-token)'));
      continue;
    }
    const roles = [...new Set(o.handles.map(roleOf).filter((r): r is string => r !== undefined))];
    if (o.handles.length === 0 || roles.length === 0) {
      const what = o.type === 'authentication-key' ? ': whoever knows its password can open the device' : '';
      findings.push({ kind: 'unrecorded-object', message: `${deviceObjectName(o)}, capabilities ${o.capabilities.join(', ') || 'none'}, was made by no ceremony recorded in this token's transcript${what}` });
      objects.push(record(o, 'not recorded by any ceremony'));
      continue;
    }
    const key = o.handles.map(keyOf).find((k) => k !== undefined);
    if (key?.by.action === 'generate-key' && !o.origin.split('+').includes('generated')) {
      findings.push({ kind: 'key-differs', message: `${deviceObjectName(o)} holds the key '${key.label}' that ${key.by.action} of ceremony ${key.by.ceremonyId} generated inside the device, but the device says it was ${o.origin}: its material came from outside` });
    }
    objects.push(record(o, roles.join('; ')));
  }
  return { objects, findings };
}
