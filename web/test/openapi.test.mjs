// GET /v1/openapi.json against reality: the served document is gateway/openapi.json and a
// valid OpenAPI 3.1 description, and every operation in it, called for real on a demo
// federation (sample workload) with its successes and its failures, answers only statuses
// it documents, with the documented content type, headers and body schema. Every
// documented operation must be called at least once, so a route added to the description
// without a call here fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { startDemo } from './demo.mjs';

const kSourceDocument = new URL('../../gateway/openapi.json', import.meta.url);
const kMethods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

let demo;
let doc;      // the served document, as parsed JSON (with its $refs)
let checker;  // set once the document is known

before(async () => {
  demo = await startDemo({ centers: 4, workload: 'sample' });
});

after(async () => {
  await demo?.stop();
});

// Polls `probe` until it returns a truthy value; fails after `ms` with `what`.
async function waitFor(what, probe, ms = 60000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));  // a poll interval, not a wait for something
  }
}

// Validates answers against the document's operations and remembers what was called.
class Checker {
  constructor(document) {
    this.doc = document;
    this.problems = [];
    this.called = new Map();  // "GET /v1/jobs" -> Set of statuses seen
    this.validators = new Map();
    // Response schemas refer to #/components/schemas/X; ajv gets those as $defs of one
    // schema of their own, so that each response schema compiles on its own. Strict, but
    // for `required` in an anyOf branch naming a property its parent defines ("model, or
    // else a minimum spec"), which strictRequired would refuse.
    this.ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema({ $id: 'edwc', $defs: Checker.rewrite(document.components.schemas) });
  }

  static rewrite(schema) {
    return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"edwc#/$defs/'));
  }

  // $ref of a response, parameter, ... to its target in the document.
  resolve(node) {
    while (node && node.$ref) {
      node = node.$ref.slice(2).split('/').reduce((at, key) => at[key.replaceAll('~1', '/').replaceAll('~0', '~')], this.doc);
    }
    return node;
  }

  validator(key, schema) {
    if (!this.validators.has(key)) this.validators.set(key, this.ajv.compile(Checker.rewrite(schema)));
    return this.validators.get(key);
  }

  operations() {
    const out = [];
    for (const [path, item] of Object.entries(this.doc.paths)) {
      for (const method of kMethods) if (item[method]) out.push(`${method.toUpperCase()} ${path}`);
    }
    return out;
  }

  // One real request for the operation `method template`. `params` fill the template;
  // `query` is appended as it is. `expect`: the status (or statuses) this scenario must get.
  async call(method, template, { params = {}, query = '', expect, ...options } = {}) {
    const where = `${method} ${template}${query ? '?' + query : ''}`;
    const operation = this.doc.paths[template]?.[method.toLowerCase()];
    if (!operation) {
      this.problems.push(`${where}: not in the description`);
      return undefined;
    }
    let target = template.replace(/\{(\w+)\}/g, (_, name) => {
      if (!(name in params)) throw new Error(`${where}: no value for {${name}}`);
      return params[name];
    });
    if (query) target += `?${query}`;
    const r = await demo.request(demo.home, method, target, options);
    const key = `${method} ${template}`;
    if (!this.called.has(key)) this.called.set(key, new Set());
    this.called.get(key).add(r.status);
    const expected = [expect ?? []].flat();
    if (expected.length && !expected.includes(r.status)) {
      this.problems.push(`${where}: status ${r.status}, the scenario expects ${expected.join(' or ')}: ${r.body.slice(0, 300)}`);
    }
    if (r.status >= 200 && r.status < 300 && options.body !== undefined && operation.requestBody) {
      this.checkRequest(where, operation, options);
    }
    this.checkResponse(where, key, operation, r);
    return r;
  }

  // A request the server accepted must fit the documented request schema.
  checkRequest(where, operation, { body, headers = {} }) {
    const requestBody = this.resolve(operation.requestBody);
    const type = (headers['content-type'] ?? 'application/json').split(';')[0];
    const media = requestBody.content[type];
    if (!media) return this.problems.push(`${where}: request content type ${type} is not documented`);
    if (type !== 'application/json' || typeof body === 'string') return;
    const validate = this.validator(`${where} request`, media.schema);
    if (!validate(body)) {
      this.problems.push(`${where}: accepted request does not fit its schema: ${this.ajv.errorsText(validate.errors)}`);
    }
  }

  checkResponse(where, key, operation, r) {
    const documented = operation.responses[String(r.status)];
    if (!documented) {
      this.problems.push(`${where}: status ${r.status} is not documented (${Object.keys(operation.responses).join(', ')}): ${r.body.slice(0, 300)}`);
      return;
    }
    const response = this.resolve(documented);
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      const h = this.resolve(header);
      const value = r.headers[name.toLowerCase()];
      if (value === undefined) {
        if (h.required) this.problems.push(`${where}: ${r.status} lacks the required header ${name}`);
        continue;
      }
      const validate = this.validator(`${key} ${r.status} header ${name}`, h.schema ?? {});
      if (!validate(value)) this.problems.push(`${where}: header ${name}: ${JSON.stringify(value)} ${this.ajv.errorsText(validate.errors)}`);
    }
    const content = response.content ?? {};
    const actualType = (r.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (Object.keys(content).length === 0) {
      if (r.body.length) this.problems.push(`${where}: ${r.status} documents no body but got ${actualType}`);
      return;
    }
    const media = content[actualType];
    if (!media) {
      this.problems.push(`${where}: ${r.status} content type '${actualType}' is not documented (${Object.keys(content).join(', ')})`);
      return;
    }
    if (actualType !== 'application/json') return;  // text, CSV and bytes: the type is the check
    let body;
    try {
      body = JSON.parse(r.body);
    } catch (e) {
      this.problems.push(`${where}: ${r.status} body is not JSON: ${e.message}`);
      return;
    }
    if (!media.schema) return;
    const validate = this.validator(`${key} ${r.status} ${actualType}`, media.schema);
    if (!validate(body)) {
      this.problems.push(`${where}: ${r.status} body does not fit its schema: ${this.ajv.errorsText(validate.errors, { separator: '; ' })}`);
    }
  }
}

test('GET /v1/openapi.json serves gateway/openapi.json, a valid OpenAPI 3.1 document', async () => {
  const r = await demo.request(demo.home, 'GET', '/v1/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(r.body, readFileSync(kSourceDocument, 'utf8'), 'the binary embeds gateway/openapi.json as it is');
  doc = r.json();
  assert.equal(doc.openapi, '3.1.0');
  // validate() dereferences the object it is given: hand it a copy.
  await SwaggerParser.validate(structuredClone(doc));
  checker = new Checker(doc);
});

test('every operation answers as documented', async () => {
  assert.ok(checker, 'the description loaded');
  const c = checker;
  const home = demo.home.id;
  const others = demo.centers.filter((x) => x.id !== home);

  // Health and meta: public.
  await c.call('GET', '/healthz', { expect: 200 });
  await c.call('GET', '/readyz', { expect: 200 });
  await c.call('GET', '/metrics', { expect: 200 });
  await c.call('GET', '/v1/openapi.json', { expect: 200 });

  // Who is calling: every role, and nobody.
  for (const role of ['viewer', 'broker', 'finance', 'operator']) {
    await c.call('GET', '/v1/whoami', { role, expect: 200 });
  }
  await c.call('GET', '/v1/whoami', { expect: 401 });

  // The federation view.
  await c.call('GET', '/v1/centers', { role: 'viewer', expect: 200 });
  await c.call('GET', '/v1/centers', { expect: 401 });
  await c.call('GET', '/v1/centers', { token: 'not-a-token', expect: 401 });
  await c.call('GET', '/v1/centers/{id}', { params: { id: home }, role: 'finance', expect: 200 });
  await c.call('GET', '/v1/centers/{id}', { params: { id: 'nosuch' }, role: 'viewer', expect: 404 });

  // Quotes.
  const centers = (await demo.request(demo.home, 'GET', '/v1/centers', { role: 'viewer' })).json().centers;
  const model = centers.find((x) => x.self).accelerators[0].model;
  const quote = { model, count: 1, duration_minutes: 1 };
  await c.call('POST', '/v1/quotes', { role: 'broker', body: quote, expect: 200 });
  await c.call('POST', '/v1/quotes', { role: 'broker', body: { ...quote, colour: 'blue' }, expect: 400 });
  await c.call('POST', '/v1/quotes', { role: 'broker', body: '{"model":', expect: 400 });
  await c.call('POST', '/v1/quotes', { role: 'viewer', body: quote, expect: 403 });
  await c.call('POST', '/v1/quotes', { body: quote, expect: 401 });

  // Jobs: one placed here, replayed, and a changed body under the same key.
  const key = `openapi-${process.pid}-${Date.now()}`;
  const job = { ...quote, name: 'openapi-test', command: ['sh', '-c', 'exit 0'] };
  const placed = await c.call('POST', '/v1/jobs', { role: 'broker', body: job, headers: { 'idempotency-key': key }, expect: [201, 202] });
  const jobId = placed.json().id;
  await c.call('POST', '/v1/jobs', { role: 'broker', body: job, headers: { 'idempotency-key': key }, expect: [200, 202] });
  await c.call('POST', '/v1/jobs', { role: 'broker', body: { ...job, count: 2 }, headers: { 'idempotency-key': key }, expect: 409 });
  await c.call('POST', '/v1/jobs', { role: 'broker', body: { ...quote }, expect: 400 });
  await c.call('POST', '/v1/jobs', { role: 'broker', body: job, headers: { 'idempotency-key': 'has space' }, expect: 400 });
  await c.call('POST', '/v1/jobs', { role: 'broker', body: { ...job, inputs: [{ dataset: 'no-such-data', center: home }] }, expect: 404 });
  await c.call('POST', '/v1/jobs', { role: 'finance', body: job, expect: 403 });
  await c.call('GET', '/v1/jobs', { role: 'broker', expect: 200 });
  const page = await c.call('GET', '/v1/jobs', { role: 'operator', query: 'limit=1', expect: 200 });
  assert.ok(page.json().next, 'the sample workload placed more than one job');
  await c.call('GET', '/v1/jobs', { role: 'operator', query: `limit=1&after=${page.json().next}`, expect: 200 });
  await c.call('GET', '/v1/jobs', { role: 'broker', query: 'state=succeeded', expect: 200 });
  await c.call('GET', '/v1/jobs', { role: 'broker', query: 'limit=0', expect: 400 });
  await c.call('GET', '/v1/jobs', { role: 'broker', query: 'state=sleeping', expect: 400 });
  await c.call('GET', '/v1/jobs', { role: 'viewer', expect: 403 });
  const sampleJob = page.json().jobs[0].id;
  await c.call('GET', '/v1/jobs/{id}', { params: { id: sampleJob }, role: 'broker', expect: 200 });
  await c.call('GET', '/v1/jobs/{id}', { params: { id: jobId }, role: 'operator', expect: 200 });
  await c.call('GET', '/v1/jobs/{id}', { params: { id: 'job_nosuch' }, role: 'broker', expect: 404 });
  await c.call('GET', '/v1/jobs/{id}', { params: { id: jobId }, role: 'finance', expect: 403 });
  await c.call('DELETE', '/v1/jobs/{id}', { params: { id: jobId }, role: 'broker', expect: 200 });
  await c.call('DELETE', '/v1/jobs/{id}', { params: { id: 'job_nosuch' }, role: 'operator', expect: 404 });
  await c.call('DELETE', '/v1/jobs/{id}', { params: { id: jobId }, role: 'viewer', expect: 403 });

  // Datasets: a small upload, downloads whole and in part, and its failures.
  const name = `openapi-${process.pid}`;
  const bytes = 'edwc openapi test data\n'.repeat(200);
  const octets = { 'content-type': 'application/octet-stream' };
  await c.call('PUT', '/v1/datasets/{name}', { params: { name }, query: 'tags=test,openapi', role: 'broker', body: bytes, headers: octets, expect: 201 });
  await c.call('PUT', '/v1/datasets/{name}', { params: { name }, query: 'tags=test,openapi', role: 'broker', body: bytes, headers: octets, expect: 200 });
  await c.call('PUT', '/v1/datasets/{name}', { params: { name }, role: 'operator', body: bytes + 'more', headers: octets, expect: 409 });
  await c.call('PUT', '/v1/datasets/{name}', { params: { name: `${name}-x` }, query: 'chunk_size=5', role: 'broker', body: bytes, headers: octets, expect: 400 });
  await c.call('PUT', '/v1/datasets/{name}', { params: { name: `${name}-x` }, role: 'viewer', body: bytes, headers: octets, expect: 403 });
  await c.call('GET', '/v1/datasets', { role: 'viewer', expect: 200 });
  await c.call('GET', '/v1/datasets', { role: 'finance', expect: 403 });
  const whole = await c.call('GET', '/v1/datasets/{name}', { params: { name }, role: 'broker', expect: 200 });
  assert.equal(whole.body, bytes);
  const part = await c.call('GET', '/v1/datasets/{name}', { params: { name }, role: 'broker', headers: { range: 'bytes=5-11' }, expect: 206 });
  assert.equal(part.body, bytes.slice(5, 12));
  assert.equal(part.headers['content-range'], `bytes 5-11/${bytes.length}`);
  await c.call('GET', '/v1/datasets/{name}', { params: { name }, role: 'broker', headers: { range: 'bytes=-4' }, expect: 206 });
  await c.call('GET', '/v1/datasets/{name}', { params: { name }, role: 'broker', headers: { range: `bytes=${bytes.length}-` }, expect: 416 });
  await c.call('GET', '/v1/datasets/{name}', { params: { name }, role: 'broker', headers: { range: 'bytes=1-2,4-5' }, expect: 400 });
  await c.call('GET', '/v1/datasets/{name}', { params: { name: 'no-such-data' }, role: 'broker', expect: 404 });
  await c.call('GET', '/v1/datasets/{name}', { params: { name }, role: 'viewer', expect: 403 });
  await c.call('GET', '/v1/datasets/{name}/manifest', { params: { name }, role: 'viewer', expect: 200 });
  await c.call('GET', '/v1/datasets/{name}/manifest', { params: { name: 'no-such-data' }, role: 'broker', expect: 404 });

  // Transfers: the upload to another center, replayed, conflicting, followed, cancelled.
  const to = others[0].id;
  const move = { dataset: name, from: home, to };
  const tkey = `openapi-transfer-${process.pid}-${Date.now()}`;
  const created = await c.call('POST', '/v1/transfers', { role: 'broker', body: move, headers: { 'idempotency-key': tkey }, expect: 201 });
  const transferId = created.json().transfer.id;
  await c.call('POST', '/v1/transfers', { role: 'broker', body: move, headers: { 'idempotency-key': tkey }, expect: 200 });
  await c.call('POST', '/v1/transfers', { role: 'broker', body: { ...move, to: others[1].id }, headers: { 'idempotency-key': tkey }, expect: 409 });
  await c.call('POST', '/v1/transfers', { role: 'broker', body: { dataset: name, from: home }, expect: 400 });
  await c.call('POST', '/v1/transfers', { role: 'operator', body: { ...move, dataset: 'no-such-data' }, expect: 404 });
  await c.call('POST', '/v1/transfers', { role: 'finance', body: move, expect: 403 });
  await waitFor(`transfer ${transferId} done`, async () => {
    const r = await c.call('GET', '/v1/transfers/{id}', { params: { id: transferId }, role: 'broker', expect: 200 });
    return r.json().transfer.state === 'done';
  });
  await c.call('GET', '/v1/transfers/{id}', { params: { id: 'xfer_nosuch' }, role: 'operator', expect: 404 });
  await c.call('GET', '/v1/transfers/{id}', { params: { id: transferId }, role: 'viewer', expect: 403 });
  await c.call('GET', '/v1/transfers', { role: 'broker', expect: 200 });
  await c.call('GET', '/v1/transfers', { role: 'operator', expect: 200 });
  await c.call('GET', '/v1/transfers', { role: 'finance', expect: 403 });
  await c.call('DELETE', '/v1/transfers/{id}', { params: { id: transferId }, role: 'broker', expect: 200 });
  await c.call('DELETE', '/v1/transfers/{id}', { params: { id: 'xfer_nosuch' }, role: 'broker', expect: 404 });
  await c.call('DELETE', '/v1/transfers/{id}', { params: { id: transferId }, role: 'viewer', expect: 403 });
  await c.call('GET', '/v1/audit', { role: 'operator', expect: 200 });
  await c.call('GET', '/v1/audit', { role: 'operator', query: 'limit=2', expect: 200 });
  await c.call('GET', '/v1/audit', { role: 'operator', query: 'limit=0', expect: 400 });
  await c.call('GET', '/v1/audit', { role: 'broker', expect: 403 });

  await c.call('DELETE', '/v1/datasets/{name}', { params: { name }, role: 'broker', expect: 200 });
  await c.call('DELETE', '/v1/datasets/{name}', { params: { name }, role: 'broker', expect: 404 });
  await c.call('DELETE', '/v1/datasets/{name}', { params: { name: '.hidden' }, role: 'broker', expect: 400 });
  await c.call('DELETE', '/v1/datasets/{name}', { params: { name }, role: 'viewer', expect: 403 });

  // Settlements: the sample workload's, once they are in the ledger.
  const settlements = await waitFor('settlements of the sample workload', async () => {
    const r = await demo.request(demo.home, 'GET', '/v1/settlements?state=agreed', { role: 'finance' });
    return r.status === 200 && r.json().settlements.length > 1 ? r.json().settlements : null;
  });
  const peer = settlements[0].counterparty;
  await c.call('GET', '/v1/settlements', { role: 'finance', expect: 200 });
  const first = await c.call('GET', '/v1/settlements', { role: 'finance', query: 'limit=1', expect: 200 });
  await c.call('GET', '/v1/settlements', { role: 'finance', query: `limit=1&after=${encodeURIComponent(first.json().next)}`, expect: 200 });
  await c.call('GET', '/v1/settlements', { role: 'finance', query: `peer=${peer}&kind=compute&direction=payable&from=2000-01-01&to=2100-01-01`, expect: 200 });
  const csv = await c.call('GET', '/v1/settlements', { role: 'finance', query: 'format=csv&limit=1', expect: 200 });
  assert.ok(csv.headers['x-next-cursor'], 'a CSV page before the last names the next cursor');
  await c.call('GET', '/v1/settlements', { role: 'finance', query: 'kind=lunch', expect: 400 });
  await c.call('GET', '/v1/settlements', { role: 'broker', expect: 403 });
  await c.call('GET', '/v1/settlements/{id}', { params: { id: encodeURIComponent(settlements[0].id) }, role: 'finance', expect: 200 });
  await c.call('GET', '/v1/settlements/{id}', { params: { id: 'compute%2Fnosuch' }, role: 'finance', expect: 404 });
  await c.call('GET', '/v1/settlements/{id}', { params: { id: 'compute%2' }, role: 'finance', expect: 400 });
  await c.call('GET', '/v1/balances', { role: 'finance', expect: 200 });
  await c.call('GET', '/v1/balances', { role: 'finance', query: 'from=2000-01-01&to=2100-01-01', expect: 200 });
  await c.call('GET', '/v1/balances', { role: 'finance', query: 'from=yesterday', expect: 400 });
  await c.call('GET', '/v1/balances', { role: 'operator', expect: 403 });
  await c.call('GET', '/v1/ledger/verify', { role: 'finance', expect: 200 });
  await c.call('GET', '/v1/ledger/verify', { expect: 401 });
  await c.call('POST', '/v1/reconcile/{peer}', { params: { peer }, role: 'finance', body: {}, expect: 200 });
  await c.call('POST', '/v1/reconcile/{peer}', { params: { peer }, role: 'finance', body: { from: '2000-01-01', to: '2100-01-01' }, expect: 200 });
  await c.call('POST', '/v1/reconcile/{peer}', { params: { peer }, role: 'finance', body: { from: 'soon' }, expect: 400 });
  await c.call('POST', '/v1/reconcile/{peer}', { params: { peer: home }, role: 'finance', body: {}, expect: 400 });
  await c.call('POST', '/v1/reconcile/{peer}', { params: { peer: 'nosuch' }, role: 'finance', body: {}, expect: 404 });
  await c.call('POST', '/v1/reconcile/{peer}', { params: { peer }, role: 'broker', body: {}, expect: 403 });
  await c.call('GET', '/v1/netting', { role: 'finance', expect: 200 });
  await c.call('GET', '/v1/netting', { role: 'finance', query: 'from=2100-01-01&to=2000-01-01', expect: 400 });
  await c.call('GET', '/v1/netting', { role: 'viewer', expect: 403 });
  await c.call('GET', '/v1/statements/{peer}', { params: { peer }, role: 'finance', expect: 200 });
  await c.call('GET', '/v1/statements/{peer}', { params: { peer }, role: 'finance', query: 'format=csv', expect: 200 });
  await c.call('GET', '/v1/statements/{peer}', { params: { peer }, role: 'finance', query: 'format=xml', expect: 400 });
  await c.call('GET', '/v1/statements/{peer}', { params: { peer }, role: 'broker', expect: 403 });

  // The dashboard: its page (and the redirect to it), a file the page names, unchanged
  // since the client's copy, and a file that is not there.
  await c.call('GET', '/ui', { expect: 308 });
  const index = await c.call('GET', '/ui/', { expect: 200 });
  await c.call('GET', '/ui/', { headers: { 'if-none-match': index.headers.etag }, expect: 304 });
  const asset = /(?:src|href)="(?:\.\/|\/ui\/)?([\w.-]+\.(?:js|css|json|svg))"/.exec(index.body);
  assert.ok(asset, 'index.html names a file of its own');
  const file = await c.call('GET', '/ui/{file}', { params: { file: asset[1] }, expect: 200 });
  await c.call('GET', '/ui/{file}', { params: { file: asset[1] }, headers: { 'if-none-match': file.headers.etag }, expect: 304 });
  await c.call('GET', '/ui/{file}', { params: { file: 'no-such-file.js' }, expect: 404 });
  await c.call('GET', '/v1/datasets/{name}/manifest', { params: { name: '.hidden' }, role: 'operator', expect: 400 });

  // Every operation that needs a token: without one 401, with a role it does not allow 403
  // (the token is checked before the parameters are looked at).
  const roles = ['viewer', 'broker', 'finance', 'operator'];
  for (const op of c.operations()) {
    const [method, template] = op.split(' ');
    const allowed = doc.paths[template][method.toLowerCase()]['x-edwc-roles'];
    if (!allowed) continue;
    const params = Object.fromEntries([...template.matchAll(/\{(\w+)\}/g)].map(([, name]) => [name, 'x']));
    await c.call(method, template, { params, expect: 401 });
    const other = roles.find((r) => !allowed.includes(r));
    if (other) await c.call(method, template, { params, role: other, expect: 403 });
  }

  // A center goes away: the home answers for its transfer with its last word, reconciling
  // with it is a bad gateway, and netting goes on without it.
  const gone = demo.centers.find((x) => x.id === to);
  process.kill(gone.pid, 'SIGKILL');
  await waitFor(`${to} gone`, async () => {
    const r = await c.call('GET', '/v1/transfers/{id}', { params: { id: transferId }, role: 'broker', expect: 200 });
    return r.json().transfer.stale === true;
  });
  await c.call('POST', '/v1/reconcile/{peer}', { params: { peer: to }, role: 'finance', body: {}, expect: 502 });
  const netting = await c.call('GET', '/v1/netting', { role: 'finance', expect: 200 });
  assert.ok(netting.json().unreachable.some((u) => u.startsWith(`${to}:`)), `${to} is unreachable in netting`);

  assert.deepEqual(c.problems, [], `answers that differ from the description:\n  ${c.problems.join('\n  ')}`);
});

test('every documented operation was called', () => {
  assert.ok(checker, 'the description loaded');
  const missing = checker.operations().filter((op) => !checker.called.has(op));
  assert.deepEqual(missing, [], `operations never called by this test: ${missing.join(', ')}`);
  for (const op of checker.operations()) {
    const documented = Object.keys(checker.resolve(checker.doc.paths[op.slice(op.indexOf(' ') + 1)][op.split(' ')[0].toLowerCase()]).responses);
    const seen = [...(checker.called.get(op) ?? [])].map(String);
    const unseen = documented.filter((s) => !seen.includes(s));
    if (unseen.length) console.log(`# ${op}: documented but not provoked here: ${unseen.join(', ')}`);
  }
});
