// The dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a
// running demo federation with the sample workload: every center on the map and in the
// table, what each role may see, a refused token, and no console error or CSP violation.
// Screenshots go to $EDWC_TEST_ARTEFACTS (dashboard.png: the broker's view).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startDemo } from './demo.mjs';

const kChromium = process.env.EDWC_CHROMIUM ?? '/usr/bin/chromium';
const kArtefacts = process.env.EDWC_TEST_ARTEFACTS ?? path.join(process.cwd(), 'test-artefacts');
const kWait = 30000;

let demo = null;
let browser = null;
let api = '';

// Free and total devices of every center, as GET /v1/centers says.
async function expectedCapacity() {
  const r = await demo.request(demo.home, 'GET', '/v1/centers', { role: 'viewer' });
  assert.equal(r.status, 200, r.body);
  const out = {};
  for (const c of r.json().centers) {
    let free = 0;
    let total = 0;
    for (const a of c.accelerators) {
      free += a.free;
      total += a.total;
    }
    out[c.id] = `${free}/${total}`;
  }
  return out;
}

// A fresh browser context (its own sessionStorage) whose page records every console error,
// uncaught exception and CSP violation. `allowed` lists console messages a test expects.
async function openPage(allowed = []) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,  // the demo's own CA
    viewport: { width: 1600, height: 1000 },
  });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (allowed.some((re) => re.test(msg.text()))) return;
    problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  const check = async () => {
    const csp = await page.evaluate(() => window.__cspViolations);
    assert.deepEqual([...problems, ...csp.map((v) => `CSP violation: ${v}`)], []);
  };
  return { context, page, check };
}

async function signIn(page, role, token = demo.tokens[role]) {
  await page.goto(`${api}/ui`);  // 308 to /ui/
  assert.equal(new URL(page.url()).pathname, '/ui/');
  await page.locator('#token').fill(token);
  await page.locator('#signin-submit').click();
}

async function waitSignedIn(page, role) {
  await page.locator('#who').filter({ hasText: `${role} @ ${demo.home.id}` }).waitFor({ timeout: kWait });
  await page.waitForFunction(() => document.body.dataset.loaded === 'true', null, { timeout: kWait });
}

// Waits until every center of demo.json is on the map and in the table with `capacity`.
async function waitForCenters(page, capacity) {
  const ids = demo.centers.map((c) => c.id);
  assert.deepEqual(Object.keys(capacity).sort(), [...ids].sort(), 'the view lists every demo center');
  await page.waitForFunction(
    (want) =>
      Object.entries(want).every(([id, devices]) => {
        const onMap = document.querySelector(`#map .center[data-id="${id}"] .devices`);
        const row = document.querySelector(`#centers-table tbody tr[data-id="${id}"] td.devices`);
        return onMap?.textContent.startsWith(`${devices} `) && row?.textContent === devices;
      }),
    capacity,
    { timeout: kWait },
  );
}

async function rowIds(page, table) {
  return page.locator(`#${table} tbody tr[data-id]`).evaluateAll((rows) => rows.map((r) => r.dataset.id));
}

async function screenshot(page, name) {
  mkdirSync(kArtefacts, { recursive: true });
  await page.screenshot({ path: path.join(kArtefacts, name), fullPage: true, animations: 'disabled' });
}

describe('dashboard', { timeout: 280000 }, () => {
  before(async () => {
    demo = await startDemo({ centers: 4, workload: 'sample' });
    api = demo.home.api_url;
  });

  after(async () => {
    await demo?.stop();
  });

  test('serves the page with its headers, and whoami for every role', async () => {
    const redirect = await demo.request(demo.home, 'GET', '/ui');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, '/ui/');

    const page = await demo.request(demo.home, 'GET', '/ui/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.match(page.headers['content-security-policy'], /default-src 'self'/);
    assert.match(page.headers['content-security-policy'], /script-src 'self'(;|$)/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)/, 'no inline script');
    assert.doesNotMatch(page.body, /https?:\/\//, 'nothing from another origin');

    const etag = page.headers.etag;
    assert.match(etag, /^"[0-9a-f]+"$/);
    const again = await demo.request(demo.home, 'GET', '/ui/', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers['content-length'], undefined, 'a 304 sends no Content-Length (RFC 9110)');
    const listed = await demo.request(demo.home, 'GET', '/ui/', {
      headers: { 'if-none-match': `"other", W/${etag}` },
    });
    assert.equal(listed.status, 304, 'a weak tag in a list matches');
    const changed = await demo.request(demo.home, 'GET', '/ui/', {
      headers: { 'if-none-match': '"other"' },
    });
    assert.equal(changed.status, 200);

    const assets = [
      ['app.js', /^text\/javascript/],
      ['app.css', /^text\/css/],
      ['favicon.svg', /^image\/svg\+xml/],
    ];
    for (const [file, type] of assets) {
      const r = await demo.request(demo.home, 'GET', `/ui/${file}`);
      assert.equal(r.status, 200, file);
      assert.match(r.headers['content-type'], type, file);
      assert.ok(r.headers.etag, file);
    }
    const missing = await demo.request(demo.home, 'GET', '/ui/nope.js');
    assert.equal(missing.status, 404);
    assert.equal(missing.json().error.code, 'not_found');

    for (const role of ['viewer', 'broker', 'finance', 'operator']) {
      const r = await demo.request(demo.home, 'GET', '/v1/whoami', { role });
      assert.equal(r.status, 200, r.body);
      const who = r.json();
      assert.deepEqual(Object.keys(who).sort(), ['center', 'name', 'role']);
      assert.equal(who.role, role);
      assert.equal(who.center, demo.home.id);
      assert.ok(who.name);
    }
    assert.equal((await demo.request(demo.home, 'GET', '/v1/whoami')).status, 401);
    const wrong = await demo.request(demo.home, 'GET', '/v1/whoami', { token: 'edwc_wrong' });
    assert.equal(wrong.status, 401);
  });

  describe('in Chromium', () => {
    before(async () => {
      if (!existsSync(kChromium)) {
        throw new Error(
          `${kChromium} is missing: the dashboard test needs Debian's Chromium ` +
            '(EDWC_TEST_DEPS=1 scripts/install-deps), or set EDWC_CHROMIUM',
        );
      }
      browser = await chromium.launch({
        executablePath: kChromium,
        headless: true,
        args: ['--no-sandbox'],  // tests run as root
      });
    });

    after(async () => {
      await browser?.close();
    });

    test('viewer: every center on the map and in the table, nothing else', async () => {
      const { context, page, check } = await openPage();
      try {
        await signIn(page, 'viewer');
        await waitSignedIn(page, 'viewer');
        await waitForCenters(page, await expectedCapacity());
        const liveness = await page
          .locator('#map .center')
          .evaluateAll((g) => g.map((x) => x.dataset.liveness));
        assert.equal(liveness.length, demo.centers.length);
        assert.ok(liveness.every((l) => ['alive', 'suspect', 'dead'].includes(l)), liveness.join());
        for (const panel of ['#jobs-panel', '#transfers-panel', '#balances-panel']) {
          assert.ok(await page.locator(panel).isHidden(), `${panel} hidden for viewers`);
        }
        assert.equal(await page.locator('#map .arc').count(), 0);
        assert.match(await page.locator('#map .center .price').first().textContent(), /¥\d+\.\d\d/);

        // Live: the next refresh comes by itself; a reload keeps the session (sessionStorage).
        const first = await page.locator('#updated').textContent();
        await page.waitForFunction((t) => document.getElementById('updated').textContent !== t, first,
          { timeout: kWait });
        await page.reload();
        await waitSignedIn(page, 'viewer');
        await screenshot(page, 'dashboard-viewer.png');
        await check();
      } finally {
        await context.close();
      }
    });

    test('broker: the jobs and transfers of the workload, with arcs; sign out', async () => {
      const { context, page, check } = await openPage();
      // The workload's jobs have ended; one that runs on gives the map an animated arc.
      const submitted = await demo.request(demo.home, 'POST', '/v1/jobs', {
        role: 'broker',
        headers: { 'idempotency-key': 'dashboard-test-live-arc' },
        body: {
          name: 'live-arc',
          model: 'ascend-910b',
          count: 8,
          duration_minutes: 10,
          objective: 'cost',
          command: ['sleep', '120'],
        },
      });
      assert.ok([200, 201, 202].includes(submitted.status), submitted.body);
      const live = submitted.json();
      try {
        const read = async (target) =>
          (await demo.request(demo.home, 'GET', target, { role: 'broker' })).json();
        const { jobs } = await read('/v1/jobs');
        const { transfers } = await read('/v1/transfers');
        assert.ok(jobs.length > 1, 'the sample workload placed jobs');
        await signIn(page, 'broker');
        await waitSignedIn(page, 'broker');
        await waitForCenters(page, await expectedCapacity());
        await page.locator('#jobs-table tbody tr[data-id]').nth(jobs.length - 1).waitFor({ timeout: kWait });
        assert.deepEqual((await rowIds(page, 'jobs-table')).sort(), jobs.map((j) => j.id).sort());
        assert.deepEqual(
          (await rowIds(page, 'transfers-table')).sort(),
          transfers.map((t) => t.id).sort(),
        );
        // live-arc may still be placing (no center yet) in `jobs`; it runs away from home (the
        // home center has no ascend-910b).
        await page.locator(`#map .arc.job.active[data-id="${live.id}"]`).waitFor({ timeout: kWait });
        const away = jobs.filter((j) => j.id !== live.id && j.center && j.center !== demo.home.id);
        assert.ok(away.length > 0, 'the workload runs jobs away from home');
        assert.equal(await page.locator('#map .arc.job').count(), away.length + 1);
        assert.equal(await page.locator('#map .arc.transfer').count(),
          transfers.filter((t) => t.from !== t.to).length);
        assert.ok(await page.locator('#balances-panel').isHidden());
        await screenshot(page, 'dashboard.png');
        await screenshot(page, 'dashboard-broker.png');
        await check();

        await page.locator('#sign-out').click();
        await page.locator('#signin-form').waitFor({ timeout: kWait });
        assert.ok(await page.locator('#dashboard').isHidden());
        assert.equal(await page.evaluate(() => sessionStorage.getItem('edwc.token')), null);
        assert.equal(await page.locator('#jobs-table tbody tr').count(), 0, 'nothing left behind');
      } finally {
        await demo.request(demo.home, 'DELETE', `/v1/jobs/${live.id}`, { role: 'broker' });
        await context.close();
      }
    });

    test('finance: balances, no jobs', async () => {
      const { context, page, check } = await openPage();
      try {
        const answer = await demo.request(demo.home, 'GET', '/v1/balances', { role: 'finance' });
        const balances = answer.json();
        assert.ok(balances.balances.length > 0, 'the sample workload settled');
        await signIn(page, 'finance');
        await waitSignedIn(page, 'finance');
        await waitForCenters(page, await expectedCapacity());
        await page.locator('#balances-table tbody tr[data-id]').first().waitFor({ timeout: kWait });
        assert.deepEqual((await rowIds(page, 'balances-table')).sort(),
          balances.balances.map((b) => b.counterparty).sort());
        assert.match(await page.locator('#balances-table tfoot').textContent(), /¥/);
        assert.ok(await page.locator('#jobs-panel').isHidden());
        assert.ok(await page.locator('#transfers-panel').isHidden());
        assert.equal(await page.locator('#map .arc').count(), 0);
        await screenshot(page, 'dashboard-finance.png');
        await check();
      } finally {
        await context.close();
      }
    });

    test('a wrong token is refused with a clear message', async () => {
      // The refused GET /v1/whoami is logged by Chromium itself; nothing else may be.
      const { context, page, check } = await openPage([/status of 401/]);
      try {
        await signIn(page, 'viewer', 'edwc_not-a-real-token');
        const error = page.locator('#signin-error');
        await error.filter({ hasText: '401' }).waitFor({ timeout: kWait });
        assert.match(await error.textContent(), /refused this token/);
        assert.ok(await page.locator('#dashboard').isHidden());
        await screenshot(page, 'dashboard-refused.png');
        await check();
      } finally {
        await context.close();
      }
    });

    // Last: it disturbs the federation. A frozen gateway (SIGSTOP) accepts connections but
    // never answers, the way an unreachable center looks to its peers.
    test('a center that stops answering turns suspect, with an inline warning', async () => {
      const { context, page, check } = await openPage();
      const frozen = demo.centers.find((c) => c.id !== demo.home.id);
      try {
        await signIn(page, 'viewer');
        await waitSignedIn(page, 'viewer');
        process.kill(frozen.pid, 'SIGSTOP');
        await page.locator(`#map .center[data-id="${frozen.id}"]:not([data-liveness="alive"])`)
          .waitFor({ timeout: 90000 });
        await page.locator('#errors .error').filter({ hasText: `(${frozen.id})` }).waitFor({ timeout: kWait });
        assert.notEqual(
          await page.locator(`#centers-table tbody tr[data-id="${frozen.id}"] .badge`).textContent(),
          'alive',
        );
        await screenshot(page, 'dashboard-suspect.png');
        await check();
      } finally {
        process.kill(frozen.pid, 'SIGCONT');
        await context.close();
      }
    });
  });
});
