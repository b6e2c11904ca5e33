// YubiHSM 2: protocol, session, commands and transports. See docs/yubihsm.md.
export * from './constants.js';
export * as commands from './commands.js';
export * as wrap from './wrap.js';
export type { ImportedObject, UnwrapKeyRsaRequest } from './wrap.js';
export type { ObjectInfo, ObjectRef, NewObject, ListFilterSpec, PublicKeyResult, WrapKeyRsaRequest, OaepHash } from './commands.js';
export { passwordToKeys, type StaticKeys } from './crypto.js';
export { YubiHsmErrorCodes, deviceErrorCode } from './errors.js';
export { verifyLogChain, type LogEntry, type LogData } from './log.js';
export { YubiHsm, YubiHsmSession, type DeviceInfo, type OpenSessionOptions } from './session.js';
export type { YubiHsmTransport } from './transport.js';
export { HttpConnectorTransport, DEFAULT_CONNECTOR_URL, loopbackTarget, parseConnectorStatus, type ConnectorStatus } from './transport-http.js';
export { WebUsbTransport, type UsbDeviceLike, type UsbLike } from './transport-usb.js';
export { YubiHsmTokenLayer, AUDITED_COMMANDS, YUBIHSM_MODULE_PREFIX, YUBIHSM_USB_MODULE, type YubiHsmTokenLayerOptions, type DeviceLog } from './token-layer.js';
