// A real derper per DERP region, TLS with a self-signed IP certificate that clients pin by hash
// (lab.md 4.1: derper -certmode manual -hostname <IP> creates it; the DERP map carries
// CertName "sha256-raw:<hex of the DER cert>", see tailscale derp/derphttp/derphttp_client.go).
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { LabError } from './errors.js';
import { LabProcess, waitFor } from './proc.js';

export interface DerpRegion {
  regionId: number;
  regionCode: string;
  regionName: string;
  ip: string;
  derpPort: number;
  stunPort: number;
  /** "sha256-raw:<hex>" */
  certName: string;
}

export interface DerperOptions {
  ns: string;
  ip: string;
  regionId: number;
  regionCode: string;
  dir: string;
  bin: string;
  timeoutMs?: number;
}

export function certPin(pem: string): string {
  const der = new X509Certificate(pem).raw;
  return `sha256-raw:${createHash('sha256').update(der).digest('hex')}`;
}

export class Derper {
  proc: LabProcess | undefined;
  region: DerpRegion | undefined;
  constructor(readonly opts: DerperOptions) {}

  get certFile(): string {
    return join(this.opts.dir, 'certs', `${this.opts.ip}.crt`);
  }

  async start(): Promise<DerpRegion> {
    const o = this.opts;
    this.proc = LabProcess.start({
      name: `${o.regionCode}/derper`,
      ns: o.ns,
      cleanEnv: true,
      logFile: join(o.dir, 'derper.log'),
      argv: [
        o.bin,
        '-c', join(o.dir, 'derper.key'),
        '-a', `${o.ip}:443`,
        '-http-port', '-1',
        '-stun-port', '3478',
        '-certmode', 'manual',
        '-certdir', join(o.dir, 'certs'),
        '-hostname', o.ip,
        '-home', 'blank',
      ],
    });
    // Ready = certificate written AND the TLS port answers an HTTPS request.
    await waitFor(
      `DERP ${o.regionCode} (${o.ip}:443)`,
      async () => {
        if (!existsSync(this.certFile)) return 'certificate not written yet';
        const r = await run(['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', `https://${o.ip}/`], { ns: o.ns, timeoutMs: 3000 });
        return r.code === 0 ? true : `curl exit ${r.code}`;
      },
      { timeoutMs: o.timeoutMs ?? 20_000, proc: this.proc },
    );
    const certName = certPin(readFileSync(this.certFile, 'utf8'));
    // derper logs the pin it computed itself; a mismatch would mean we pin the wrong file.
    const logged = /"CertName":"(sha256-raw:[0-9a-f]+)"/.exec(readFileSync(this.proc.logFile, 'utf8'))?.[1];
    if (logged && logged !== certName) throw new LabError(`DERP ${o.regionCode}: our cert pin ${certName} differs from derper's ${logged}`);
    this.region = {
      regionId: o.regionId,
      regionCode: o.regionCode,
      regionName: `Lab DERP ${o.regionCode}`,
      ip: o.ip,
      derpPort: 443,
      stunPort: 3478,
      certName,
    };
    return this.region;
  }

  stop(): void {
    this.proc?.stop();
  }
}
