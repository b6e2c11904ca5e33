// The simulator behind the yubihsm-connector HTTP protocol, as yubihsm-connector 3.x serves it:
// GET /connector/status (status=OK, serial, version, pid, address, port lines) and POST /connector/api
// (one raw frame of 3..3139 bytes in, the raw answer out, application/octet-stream). Loopback only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { YubiHsmSimulator } from './device.js';

export const SIMULATED_CONNECTOR_VERSION = '3.0.7';

export interface ConnectorServer {
  url: string;
  port: number;
  device: YubiHsmSimulator;
  close(): Promise<void>;
}

export interface ConnectorServerOptions {
  device?: YubiHsmSimulator;
  port?: number;
  host?: '127.0.0.1' | '::1';
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function hostAllowed(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const host = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.split(':')[0] ?? '';
  return LOOPBACK_HOSTS.has(host);
}

export async function startConnectorServer(options: ConnectorServerOptions = {}): Promise<ConnectorServer> {
  const device = options.device ?? new YubiHsmSimulator();
  const host = options.host ?? '127.0.0.1';
  let port = 0;

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const plain = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(text);
    };
    // Guard against DNS rebinding: a browser page must not reach the device by naming this port.
    if (!hostAllowed(req.headers.host)) return plain(403, 'Forbidden\n');
    const path = (req.url ?? '').split('?')[0];
    if (path === '/connector/status') {
      if (req.method !== 'GET') return plain(405, 'Method Not Allowed\n', { Allow: 'GET' });
      return plain(200, `status=OK\nserial=*\nversion=${SIMULATED_CONNECTOR_VERSION}\npid=${process.pid}\naddress=${host}\nport=${port}\n`);
    }
    if (path === '/connector/api') {
      if (req.method !== 'POST') return plain(405, 'Method Not Allowed\n', { Allow: 'POST' });
      if (body.length < 3 || body.length > 3136 + 3) return plain(400, 'Bad Request\n');
      let answer: Uint8Array;
      try {
        answer = device.process(new Uint8Array(body));
      } catch {
        return plain(500, 'Internal Server Error\n');
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': answer.length });
      return res.end(Buffer.from(answer));
    }
    return plain(404, '404 page not found\n');
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 3136 + 3 + 1) chunks.push(c);
    });
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    device,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
