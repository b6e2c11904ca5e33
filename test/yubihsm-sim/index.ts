export { YubiHsmSimulator, FACTORY_AUTH_KEY_LABEL, type SimObject, type SimulatorOptions } from './device.js';
export { SimulatorTransport, type SimulatorTransportOptions } from './transport.js';
