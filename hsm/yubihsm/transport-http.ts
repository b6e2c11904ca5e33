// The yubihsm-connector HTTP protocol: POST /connector/api carries one raw frame (application/octet-stream)
// and returns the raw answer; GET /connector/status answers key=value lines. Restricted to loopback: the
// ceremony laptop is air-gapped, and a connector elsewhere would put the device's traffic on a network.
import { request } from 'node:http';
import { isIP } from 'node:net';
import { TokenError } from '../errors.js';
import { YubiHsmErrorCodes } from './errors.js';
import type { YubiHsmTransport } from './transport.js';

export const DEFAULT_CONNECTOR_URL = 'http://127.0.0.1:12345';

export interface ConnectorStatus {
  /** "OK" when the connector sees a device. */
  status: string;
  serial?: string;
  version?: string;
  pid?: number;
  address?: string;
  port?: number;
  /** Every line as given. */
  raw: Record<string, string>;
}

export function parseConnectorStatus(body: string): ConnectorStatus {
  const raw: Record<string, string> = {};
  for (const line of body.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) raw[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const status: ConnectorStatus = { status: raw.status ?? 'UNKNOWN', raw };
  if (raw.serial !== undefined) status.serial = raw.serial;
  if (raw.version !== undefined) status.version = raw.version;
  const pid = num(raw.pid);
  if (pid !== undefined) status.pid = pid;
  if (raw.address !== undefined) status.address = raw.address;
  const port = num(raw.port);
  if (port !== undefined) status.port = port;
  return status;
}

/** Where to connect: only loopback. `localhost` is taken as 127.0.0.1 without asking a resolver. */
export function loopbackTarget(url: string): { host: string; port: number; display: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw notLoopback(url, 'it is not a URL');
  }
  if (u.protocol !== 'http:') throw notLoopback(url, `only http:// is spoken to a local connector, not ${u.protocol}//`);
  if (u.username || u.password) throw notLoopback(url, 'it carries credentials');
  if (u.pathname !== '/' || u.search || u.hash) throw notLoopback(url, 'give the connector address only (scheme, host, port)');
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  let host: string;
  if (hostname === 'localhost') host = '127.0.0.1';
  else if (isIP(hostname) === 4 && hostname.startsWith('127.')) host = hostname;
  else if (isIP(hostname) === 6 && (hostname === '::1' || hostname === '0:0:0:0:0:0:0:1')) host = '::1';
  else throw notLoopback(url, `${u.hostname} is not this computer`);
  const port = u.port ? Number(u.port) : 80;
  return { host, port, display: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

function notLoopback(url: string, why: string): TokenError {
  return new TokenError(
    YubiHsmErrorCodes.CONNECTOR_NOT_LOOPBACK,
    `The YubiHSM connector address "${url}" was refused: ${why}. The ceremony only talks to a yubihsm-connector on this computer's loopback interface.`,
    'Run yubihsm-connector on the ceremony laptop and use http://127.0.0.1:12345 (or its configured port).',
  );
}

export interface HttpConnectorOptions {
  timeoutMs?: number;
}

export class HttpConnectorTransport implements YubiHsmTransport {
  private readonly target: { host: string; port: number; display: string };
  private readonly timeoutMs: number;
  readonly description: string;

  constructor(url: string = DEFAULT_CONNECTOR_URL, options: HttpConnectorOptions = {}) {
    this.target = loopbackTarget(url);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.description = `yubihsm-connector at ${this.target.display}`;
  }

  async status(): Promise<ConnectorStatus> {
    const { status, body } = await this.exchange('GET', '/connector/status');
    if (status !== 200) throw this.failed(`GET /connector/status answered HTTP ${status}`);
    return parseConnectorStatus(Buffer.from(body).toString('utf8'));
  }

  async send(frame: Uint8Array): Promise<Uint8Array> {
    const { status, body } = await this.exchange('POST', '/connector/api', frame);
    if (status !== 200) throw this.failed(`POST /connector/api answered HTTP ${status} (is the YubiHSM plugged in?)`);
    return body;
  }

  async close(): Promise<void> {}

  private failed(detail: string): TokenError {
    return new TokenError(YubiHsmErrorCodes.CONNECTOR_FAILED, `The ${this.description} failed: ${detail}.`, 'Check that the YubiHSM is plugged in and yubihsm-connector is running, then try again.');
  }

  private exchange(method: 'GET' | 'POST', path: string, body?: Uint8Array): Promise<{ status: number; body: Uint8Array }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.target.host,
          port: this.target.port,
          method,
          path,
          timeout: this.timeoutMs,
          headers: body ? { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          new TokenError(
            YubiHsmErrorCodes.CONNECTOR_UNREACHABLE,
            `The ${this.description} cannot be reached (${e.code ?? e.message}).`,
            'Start yubihsm-connector (or the simulator) on this computer and check its port.',
          ),
        ),
      );
      req.end(body ? Buffer.from(body) : undefined);
    });
  }
}
