// Sandboxed preload: exposes exactly one function per contract method and nothing of ipcRenderer itself.
import { contextBridge, ipcRenderer } from 'electron';
import { METHOD_NAMES, channelFor, type KeyCeremonyApi } from './contract.js';

const api = Object.fromEntries(
  METHOD_NAMES.map((method) => [method, (request: unknown) => ipcRenderer.invoke(channelFor(method), request ?? {})]),
) as unknown as KeyCeremonyApi;

contextBridge.exposeInMainWorld('keyceremony', Object.freeze(api));
