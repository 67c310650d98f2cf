// Starts a real demo federation (`edwc demo`, every center its own gateway process) for
// the browser and OpenAPI tests, and talks to its centers over HTTPS with the demo's CA.
//
//   const demo = await startDemo({ centers: 4, workload: 'sample' });
//   const r = await demo.request(demo.home, 'GET', '/v1/centers', { role: 'viewer' });
//   await demo.stop();
//
// EDWC_BIN names the edwc binary (set by CTest). Ports are picked free (--base-port 0) and
// the directory is a fresh temporary one, removed by stop(): tests run in parallel.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

export function edwcBinary() {
  const bin = process.env.EDWC_BIN;
  if (!bin) throw new Error('EDWC_BIN is not set (the path of the edwc binary)');
  return bin;
}

// Resolves once the demo prints that it is running (after its workload, if any).
export async function startDemo({ centers = 4, workload = 'sample', timeoutMs = 180000 } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edwc-web-test-'));
  const child = spawn(
    edwcBinary(),
    ['demo', '--centers', String(centers), '--base-port', '0', '--dir', dir, '--workload', workload],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not running after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.includes('press Ctrl-C to stop')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => { output += chunk.toString(); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`edwc demo exited (${code ?? signal}) before running:\n${output}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (e) {
    await stop();
    throw e;
  }
  const doc = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8'));
  const ca = readFileSync(doc.ca_file);
  const byId = Object.fromEntries(doc.centers.map((c) => [c.id, c]));
  return {
    dir,
    doc,
    ca,
    tokens: doc.tokens,
    centers: doc.centers,
    home: byId[doc.home_center],
    output: () => output,
    stop,
    // One HTTPS request to a center's api (or peer) URL. `role` picks the demo's token for
    // it; `token` gives one outright. Resolves {status, headers, body (string), json()}.
    request(center, method, target, { role, token, body, headers = {}, base = center.api_url } = {}) {
      const bearer = token ?? (role ? doc.tokens[role] : undefined);
      const url = new URL(target, base);
      const h = { ...headers };
      if (bearer) h.authorization = `Bearer ${bearer}`;
      let payload;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        h['content-type'] ??= 'application/json';
        h['content-length'] = Buffer.byteLength(payload);
      }
      return new Promise((resolve, reject) => {
        const req = https.request(url, { method, headers: h, ca }, (res) => {
          const parts = [];
          res.on('data', (d) => parts.push(d));
          res.on('end', () => {
            const text = Buffer.concat(parts).toString('utf8');
            resolve({ status: res.statusCode, headers: res.headers, body: text, json: () => JSON.parse(text) });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(30000, () => req.destroy(new Error(`${method} ${url} timed out`)));
        req.end(payload);
      });
    },
  };
}
