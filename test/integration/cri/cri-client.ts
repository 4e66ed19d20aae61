// A tiny CRI client: what kubelet says to containerd, for the few calls a pod sandbox needs.
//
// CRI is gRPC: each call is an HTTP/2 POST to /runtime.v1.RuntimeService/<Method> with
// `content-type: application/grpc`; the body is one length-prefixed message (1 byte "compressed"
// flag, 4 bytes big-endian length, then the protobuf bytes); the answer comes back the same way
// and its status in the trailers (`grpc-status`, 0 = OK, `grpc-message`). Protobuf itself is
// small enough to write by hand for these messages: every field is a key (field number << 3 | wire
// type) followed by a varint (wire type 0: numbers, bools, enums) or a length and bytes (wire
// type 2: strings, nested messages, map entries). Field numbers are those of the CRI's
// api.proto (k8s.io/cri-api, package runtime.v1).
//
// No npm package: node:http2 over containerd's unix socket does the transport.
import http2 from 'node:http2';
import net from 'node:net';

// ---------------------------------------------------------------------------------------------
// Protobuf, the few parts used here.

/** A message to encode: [field number, value] pairs; a nested array is a nested message. */
export type Field = [number, string | number | boolean | Field[] | undefined];

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n) & 0xffffffffffffffffn; // negative int32/int64 are sent as 10-byte two's complement
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

export function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [no, value] of fields) {
    if (value === undefined) continue;
    if (typeof value === 'number' || typeof value === 'boolean') {
      parts.push(Buffer.from([...varint((no << 3) | 0), ...varint(Number(value))]));
    } else {
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : encode(value);
      parts.push(Buffer.from([...varint((no << 3) | 2), ...varint(bytes.length)]), bytes);
    }
  }
  return Buffer.concat(parts);
}

/** A map<string,string> field: one nested {1: key, 2: value} entry per pair. */
export const mapField = (no: number, m: Record<string, string>): Field[] => Object.entries(m).map(([k, v]) => [no, [[1, k], [2, v]]]);

/** A decoded message: every field number with its values in order (bytes or numbers). */
export type Decoded = Map<number, (Buffer | bigint)[]>;

export function decode(buf: Buffer): Decoded {
  const out: Decoded = new Map();
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (i >= buf.length) throw new Error('protobuf: truncated varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const no = key >>> 3;
    let value: Buffer | bigint;
    switch (key & 7) {
      case 0:
        value = readVarint();
        break;
      case 1: // fixed64
        value = buf.readBigUInt64LE(i);
        i += 8;
        break;
      case 2: {
        const len = Number(readVarint());
        value = buf.subarray(i, i + len);
        i += len;
        break;
      }
      case 5: // fixed32
        value = BigInt(buf.readUInt32LE(i));
        i += 4;
        break;
      default:
        throw new Error(`protobuf: wire type ${key & 7} not supported`);
    }
    if (!out.has(no)) out.set(no, []);
    out.get(no)!.push(value);
  }
  return out;
}

const last = (m: Decoded, no: number) => m.get(no)?.at(-1);
export const str = (m: Decoded, no: number): string => ((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : ''))(last(m, no));
export const num = (m: Decoded, no: number): number => ((v) => (typeof v === 'bigint' ? Number(v) : 0))(last(m, no));
export const msg = (m: Decoded, no: number): Decoded => ((v) => decode(Buffer.isBuffer(v) ? v : Buffer.alloc(0)))(last(m, no));
export function strMap(m: Decoded, no: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of m.get(no) ?? []) if (Buffer.isBuffer(e)) out[str(decode(e), 1)] = str(decode(e), 2);
  return out;
}

// ---------------------------------------------------------------------------------------------
// gRPC over HTTP/2 on a unix socket.

export class GrpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    method: string,
  ) {
    super(`${method}: gRPC status ${code}${details ? `: ${details}` : ''}`);
  }
}

export const GRPC_NOT_FOUND = 5;

export class CriClient {
  private session?: http2.ClientHttp2Session;

  constructor(readonly socket: string) {}

  /** One HTTP/2 connection for all calls, (re)opened by the call that needs it. */
  private connection(): http2.ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      // The authority is only a name here: the connection is the unix socket.
      this.session = http2.connect('http://localhost', { createConnection: () => net.connect(this.socket) });
      this.session.on('error', () => {}); // reported by the call that fails
    }
    return this.session;
  }

  close(): void {
    this.session?.close();
  }

  /** One unary call: `service` e.g. "runtime.v1.RuntimeService". */
  call(service: string, method: string, body: Buffer, timeoutMs = 60_000): Promise<Decoded> {
    const name = `${service}/${method}`;
    return new Promise((resolve, reject) => {
      const req = this.connection().request({
        ':method': 'POST',
        ':path': `/${name}`,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${Math.ceil(timeoutMs / 1000)}S`,
      });
      const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), timeoutMs + 1000);
      const chunks: Buffer[] = [];
      let status: { code: number; message: string } | undefined;
      const take = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) status = { code: Number(h['grpc-status']), message: decodeURIComponent(String(h['grpc-message'] ?? '')) };
      };
      req.on('response', take); // a "trailers-only" answer (an error) has its status here
      req.on('trailers', take);
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`${name}: ${e.message}`));
      });
      req.on('close', () => {
        clearTimeout(timer);
        if (!status) return reject(new Error(`${name}: the stream ended without a gRPC status`));
        if (status.code !== 0) return reject(new GrpcError(status.code, status.message, name));
        const data = Buffer.concat(chunks);
        if (data.length < 5) return resolve(new Map()); // an empty message
        if (data[0] !== 0) return reject(new Error(`${name}: compressed answers are not supported`));
        resolve(decode(data.subarray(5, 5 + data.readUInt32BE(1))));
      });
      const frame = Buffer.alloc(5);
      frame.writeUInt32BE(body.length, 1);
      req.end(Buffer.concat([frame, body]));
    });
  }

  private runtime(method: string, fields: Field[]): Promise<Decoded> {
    return this.call('runtime.v1.RuntimeService', method, encode(fields));
  }

  // ----------------------------------------------------------------------------------------------
  // The calls (message and field names as in api.proto).

  /** VersionResponse: version 1, runtime_name 2, runtime_version 3, runtime_api_version 4. */
  async version(): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    const r = await this.runtime('Version', [[1, 'v1']]);
    return { runtimeName: str(r, 2), runtimeVersion: str(r, 3), runtimeApiVersion: str(r, 4) };
  }

  /** RunPodSandboxRequest{config 1: PodSandboxConfig} → RunPodSandboxResponse{pod_sandbox_id 1}. */
  async runPodSandbox(c: PodSandboxConfig): Promise<string> {
    const config: Field[] = [
      // PodSandboxMetadata: name 1, uid 2, namespace 3, attempt 4
      [1, [[1, c.name], [2, c.uid], [3, c.namespace], [4, 0]]],
      [2, c.hostname],
      [3, c.logDirectory],
      // PortMapping: protocol 1 (TCP 0), container_port 2, host_port 3, host_ip 4
      ...(c.portMappings ?? []).map((p): Field => [5, [[1, 0], [2, p.containerPort], [3, p.hostPort], [4, p.hostIp]]]),
      ...mapField(6, c.labels ?? {}),
      // LinuxPodSandboxConfig: cgroup_parent 1, security_context 2
      //   LinuxSandboxSecurityContext: namespace_options 1 (NamespaceOption: network 1, pid 2, ipc 3; POD = 0)
      [8, [[1, c.cgroupParent], [2, [[1, [[1, 0], [2, 0], [3, 0]]]]]]],
    ];
    const r = await this.runtime('RunPodSandbox', [[1, config]]);
    return str(r, 1);
  }

  /**
   * PodSandboxStatusRequest{pod_sandbox_id 1, verbose 2} → {status 1, info 2}; PodSandboxStatus:
   * id 1, state 3 (SANDBOX_READY 0, SANDBOX_NOTREADY 1), network 5 (PodSandboxNetworkStatus: ip 1).
   */
  async podSandboxStatus(id: string): Promise<{ id: string; ready: boolean; ip: string; info: Record<string, string> }> {
    const r = await this.runtime('PodSandboxStatus', [
      [1, id],
      [2, true],
    ]);
    const s = msg(r, 1);
    return { id: str(s, 1), ready: num(s, 3) === 0, ip: str(msg(s, 5), 1), info: strMap(r, 2) };
  }

  /**
   * ImageService.ImageStatus: ImageStatusRequest{image 1: ImageSpec{image 1}} → {image 1: Image{id 1,
   * repo_tags 2}}; no image field when the runtime does not have it (then RunPodSandbox would pull).
   */
  async imageStatus(ref: string): Promise<{ id: string; repoTags: string[] } | null> {
    const r = await this.call('runtime.v1.ImageService', 'ImageStatus', encode([[1, [[1, ref]]]]));
    if (!r.has(1)) return null;
    const img = msg(r, 1);
    return { id: str(img, 1), repoTags: (img.get(2) ?? []).map((b) => b.toString()) };
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.runtime('StopPodSandbox', [[1, id]]);
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.runtime('RemovePodSandbox', [[1, id]]);
  }
}

export interface PodSandboxConfig {
  name: string;
  uid: string;
  namespace: string;
  hostname: string;
  logDirectory: string;
  cgroupParent: string;
  labels?: Record<string, string>;
  portMappings?: { containerPort: number; hostPort: number; hostIp: string }[];
}
