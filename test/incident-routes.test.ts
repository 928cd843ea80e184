// The incident and threat-level routes through injected requests, on a real DuckDB store and in-process bus.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Incident, ThreatLevel } from '../src/analysis/incidents/incident.ts';
import {
  incidentListSchema,
  incidentSchema,
  threatHistorySchema,
  threatLevelSchema,
} from '../src/api/incident-schemas.ts';
import { decodeJson, SUBJECTS } from '../src/bus/bus.ts';
import { MemoryBus } from '../src/bus/memory.ts';
import { FakeClock } from '../src/core/clock.ts';
import { buildApp, type PortentApp } from '../src/server/app.ts';
import { DuckDBDatabase } from '../src/storage/duckdb/database.ts';
import { DuckDBEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../src/storage/duckdb/state-store.ts';
import { incidentOf } from './contracts/state-store-incidents.contract.ts';
import {
  ADMIN_TOKEN,
  HOUR,
  LIMITS,
  MINUTE,
  T0,
  assertSchema,
  expectError,
} from './support/collector-harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'portent-incident-routes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Rig extends PortentApp {
  clock: FakeClock;
  state: DuckDBStateStore;
  /** What the bus carried, by subject, decoded. */
  heard: Map<string, unknown[]>;
  close(): Promise<void>;
}

let rigs = 0;
async function rig(adminToken = ADMIN_TOKEN): Promise<Rig> {
  const clock = new FakeClock(T0);
  const db = await DuckDBDatabase.open({ path: join(dir, `store-${++rigs}.duckdb`), threads: 1 });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  const bus = new MemoryBus({ onError: (err) => assert.fail(String(err)) });
  const heard = new Map<string, unknown[]>([
    [SUBJECTS.incidents, []],
    [SUBJECTS.threatLevel, []],
  ]);
  for (const subject of heard.keys())
    bus.subscribe(subject, (d) => void heard.get(subject)!.push(decodeJson(d)));
  const built = await buildApp({
    events,
    state,
    clock,
    bus,
    collector: { ...LIMITS, adminToken },
    maxPendingBatches: 8,
    version: '0.0.0-test',
    logger: false,
    processMetrics: false,
  });
  return {
    ...built,
    clock,
    state,
    heard,
    async close() {
      await built.writer.close();
      await built.app.close();
      await bus.close();
      await state.close();
      await events.close();
      db.close();
    },
  };
}

/** Lets the bus deliver what was published. */
const settle = () => new Promise((r) => setImmediate(r));

describe('incident routes', () => {
  let r: Rig;
  before(async () => {
    r = await rig();
    await r.state.saveIncident(incidentOf({ id: 'inc_6_445_a', port: 445, updated: T0 - 3 * MINUTE }));
    await r.state.saveIncident(
      incidentOf({ id: 'inc_6_22_b', port: 22, state: 'ended', ended: T0 - MINUTE, updated: T0 - MINUTE }),
    );
    await r.state.saveIncident(
      incidentOf({
        id: 'inc_17_53_c',
        proto: 17,
        port: 53,
        state: 'peaking',
        onset: T0 - HOUR,
        updated: T0 - 2 * MINUTE,
      }),
    );
  });
  after(() => r.close());

  const get = (url: string) => r.app.inject({ method: 'GET', url });
  const ids = async (url: string) => {
    const res = await get(url);
    assert.equal(res.statusCode, 200, res.body);
    assertSchema(incidentListSchema, res.json());
    return (res.json().incidents as { id: string }[]).map((i) => i.id);
  };

  it('lists incidents newest first, with filters', async () => {
    assert.deepEqual(await ids('/api/v1/incidents'), ['inc_6_22_b', 'inc_17_53_c', 'inc_6_445_a']);
    assert.deepEqual(await ids('/api/v1/incidents?open=true'), ['inc_17_53_c', 'inc_6_445_a']);
    assert.deepEqual(await ids('/api/v1/incidents?open=false'), ['inc_6_22_b']);
    assert.deepEqual(await ids('/api/v1/incidents?state=peaking'), ['inc_17_53_c']);
    assert.deepEqual(await ids('/api/v1/incidents?proto=tcp&port=445'), ['inc_6_445_a']);
    assert.deepEqual(await ids('/api/v1/incidents?proto=udp'), ['inc_17_53_c']);
    assert.deepEqual(await ids(`/api/v1/incidents?since=${new Date(T0 - 2 * MINUTE).toISOString()}`), [
      'inc_6_22_b',
      'inc_17_53_c',
    ]);
    assert.deepEqual(await ids('/api/v1/incidents?limit=1'), ['inc_6_22_b']);
  });

  it('refuses bad list parameters with QUERY_INVALID', async () => {
    for (const q of [
      'state=gone',
      'proto=gre',
      'port=70000',
      'limit=0',
      'since=yesterday',
      'open=maybe',
      'x=1',
    ]) {
      expectError(await get(`/api/v1/incidents?${q}`), 400, 'QUERY_INVALID');
    }
  });

  it('shows one incident with ISO times and the protocol by name, or INCIDENT_NOT_FOUND', async () => {
    const res = await get('/api/v1/incidents/inc_17_53_c');
    assert.equal(res.statusCode, 200, res.body);
    assertSchema(incidentSchema, res.json());
    const body = res.json();
    assert.equal(body.proto, 'udp');
    assert.equal(body.onset, new Date(T0 - HOUR).toISOString());
    assert.equal(body.peak.events, 5000);
    assert.equal(body.override, null);
    expectError(await get('/api/v1/incidents/inc_nope'), 404, 'INCIDENT_NOT_FOUND');
  });

  it('adds notes (admin), publishes the incident, and keeps them through a later analyzer save', async () => {
    const res = await r.app.inject({
      method: 'POST',
      url: '/api/v1/incidents/inc_6_445_a/notes',
      headers: AUTH,
      payload: { author: 'ana', text: 'Looks like the Mirai variant.\n\tSee ticket <b>42</b> & "more"' },
    });
    assert.equal(res.statusCode, 201, res.body);
    assertSchema(incidentSchema, res.json());
    assert.deepEqual(res.json().notes, [
      {
        at: new Date(T0).toISOString(),
        author: 'ana',
        text: 'Looks like the Mirai variant.\n\tSee ticket <b>42</b> & "more"',
      },
    ]);
    await settle();
    const published = r.heard.get(SUBJECTS.incidents)!.at(-1) as Incident;
    assert.equal(published.id, 'inc_6_445_a');
    assert.equal(published.notes.length, 1);

    const stored = (await r.state.incident('inc_6_445_a'))!;
    await r.state.saveIncident({ ...stored, state: 'tapering', notes: [], updated: T0 });
    const again = (await get('/api/v1/incidents/inc_6_445_a')).json();
    assert.equal(again.state, 'tapering');
    assert.equal(again.notes.length, 1);
  });

  it('refuses hostile or malformed analyst text with BODY_INVALID', async () => {
    const post = (payload: object) =>
      r.app.inject({ method: 'POST', url: '/api/v1/incidents/inc_6_445_a/notes', headers: AUTH, payload });
    const cases: [object, string][] = [
      [{ author: 'ana', text: 'bell \u0007' }, '/text'],
      [{ author: 'ana', text: 'carriage\rreturn' }, '/text'],
      [{ author: 'ana', text: 'escape \u001b[31mred' }, '/text'],
      [{ author: 'ana', text: 'bidi \u202Egnp.exe' }, '/text'],
      [{ author: 'ana', text: 'lone \ud800 surrogate' }, '/text'],
      [{ author: 'ana\nroot', text: 'two-line author' }, '/author'],
      [{ author: 'ana', text: '   \n ' }, '/text'],
      [{ author: 'ana', text: 'x'.repeat(4001) }, 'body/text'],
      [{ author: 'a'.repeat(65), text: 'long author' }, 'body/author'],
      [{ author: 'ana' }, 'body'],
      [{ author: 'ana', text: 'hi', extra: 1 }, 'body/extra'],
    ];
    for (const [payload, path] of cases) {
      const body = expectError(await post(payload), 400, 'BODY_INVALID');
      assert.ok(
        body.error.details.some((d) => d.path.startsWith(path)),
        `${JSON.stringify(payload).slice(0, 60)}: ${JSON.stringify(body.error.details)}`,
      );
    }
    const stored = await r.state.incident('inc_6_445_a');
    assert.equal(stored!.notes.length, 1);
  });

  it('sets and clears an incident override (admin), and publishes each change', async () => {
    const url = '/api/v1/incidents/inc_17_53_c/override';
    const before = r.heard.get(SUBJECTS.incidents)!.length;
    let res = await r.app.inject({
      method: 'POST',
      url,
      headers: AUTH,
      payload: { author: 'bo', reason: 'known research scanner', close: true, expires: '2h' },
    });
    assert.equal(res.statusCode, 200, res.body);
    assertSchema(incidentSchema, res.json());
    assert.deepEqual(res.json().override, {
      at: new Date(T0).toISOString(),
      author: 'bo',
      reason: 'known research scanner',
      close: true,
      expires: new Date(T0 + 2 * HOUR).toISOString(),
    });
    assert.deepEqual(
      await r.state.incidentOverrides(['inc_17_53_c']),
      new Map([
        [
          'inc_17_53_c',
          { at: T0, author: 'bo', reason: 'known research scanner', close: true, expires: T0 + 2 * HOUR },
        ],
      ]),
    );

    res = await r.app.inject({
      method: 'POST',
      url,
      headers: AUTH,
      payload: {
        author: 'bo',
        reason: 'worse than it looks',
        severity: 'critical',
        expires: '2026-01-02T00:00:00Z',
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().override.severity, 'critical');
    assert.equal(res.json().override.expires, '2026-01-02T00:00:00.000Z');

    res = await r.app.inject({ method: 'DELETE', url, headers: AUTH });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().override, null);
    await settle();
    const heard = r.heard.get(SUBJECTS.incidents)!.slice(before) as Incident[];
    assert.deepEqual(
      heard.map((i) => i.override?.severity ?? i.override?.close ?? null),
      [true, 'critical', null],
    );
  });

  it('refuses bad overrides', async () => {
    const post = (payload: object, id = 'inc_17_53_c') =>
      r.app.inject({ method: 'POST', url: `/api/v1/incidents/${id}/override`, headers: AUTH, payload });
    expectError(await post({ author: 'bo', reason: 'nothing to change' }), 400, 'BODY_INVALID');
    expectError(await post({ author: 'bo', reason: 'r', close: false }), 400, 'BODY_INVALID');
    expectError(await post({ author: 'bo', reason: 'r', severity: 'huge' }), 400, 'BODY_INVALID');
    for (const expires of ['soon', '2025-12-31T00:00:00Z', '0s', '2026-01-02T00:00:00']) {
      const body = expectError(
        await post({ author: 'bo', reason: 'r', close: true, expires }),
        400,
        'BODY_INVALID',
      );
      assert.equal(body.error.details[0].path, '/expires', expires);
    }
    expectError(
      await post({ author: 'bo', reason: 'r', close: true }, 'inc_nope'),
      404,
      'INCIDENT_NOT_FOUND',
    );
    expectError(
      await r.app.inject({ method: 'DELETE', url: '/api/v1/incidents/inc_nope/override', headers: AUTH }),
      404,
      'INCIDENT_NOT_FOUND',
    );
    expectError(
      await r.app.inject({
        method: 'POST',
        url: '/api/v1/incidents/inc_nope/notes',
        headers: AUTH,
        payload: { author: 'a', text: 't' },
      }),
      404,
      'INCIDENT_NOT_FOUND',
    );
  });

  it('keeps the admin routes behind the bearer token', async () => {
    const routes: [string, string, unknown][] = [
      ['POST', '/api/v1/incidents/inc_6_445_a/notes', { author: 'x', text: 'y' }],
      ['POST', '/api/v1/incidents/inc_6_445_a/override', { author: 'x', reason: 'y', close: true }],
      ['DELETE', '/api/v1/incidents/inc_6_445_a/override', undefined],
      ['PUT', '/api/v1/threatlevel/override', { level: 'red', reason: 'y', author: 'x', expires: '1h' }],
      ['DELETE', '/api/v1/threatlevel/override', undefined],
    ];
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: ADMIN_TOKEN }]) {
      for (const [method, url, payload] of routes) {
        const res = await r.app.inject({
          method: method as 'POST',
          url,
          headers,
          payload: payload as object,
        });
        expectError(res, 401, 'ADMIN_UNAUTHORIZED');
      }
    }
    assert.equal((await r.state.incident('inc_6_445_a'))!.notes.length, 1);
    assert.equal(await r.state.threatOverride(), null);
  });
});

describe('threat level routes', () => {
  let r: Rig;
  before(async () => {
    r = await rig();
  });
  after(() => r.close());

  const level = async (query = '', headers: Record<string, string> = {}) => {
    const res = await r.app.inject({ method: 'GET', url: `/api/v1/threatlevel${query}`, headers });
    assert.equal(res.statusCode, 200, res.body);
    return res;
  };

  it('answers green "no incidents analysed yet" since the server started, before the first level', async () => {
    r.clock.advance(5 * MINUTE);
    const res = await level();
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assertSchema(threatLevelSchema, res.json());
    assert.deepEqual(res.json(), {
      level: 'green',
      since: new Date(T0).toISOString(),
      computed: 'green',
      reason: 'no incidents analysed yet',
      incidents: [],
      override: null,
    });
    const text = await level('?format=text');
    assert.equal(text.body, 'green since 2026-01-01T12:00:00Z: no incidents analysed yet\n');
  });

  it('serves the stored level as JSON, or as one line of plain text', async () => {
    const stored: ThreatLevel = {
      level: 'yellow',
      since: T0 + MINUTE,
      computed: 'yellow',
      reason: '<script>alert(1)</script>\ntcp/445 surge\u001b[2J',
      incidents: ['inc_6_445_a'],
      override: null,
    };
    await r.state.saveThreatLevel(stored, {
      at: T0 + MINUTE,
      from: 'green',
      to: 'yellow',
      reason: 'tcp/445 surge',
    });
    assert.equal((await level()).json().reason, stored.reason);
    for (const [query, headers] of [
      ['?format=text', {}],
      ['', { accept: 'text/plain' }],
      ['', { accept: 'text/plain;q=0.9, application/json;q=0.5' }],
    ] as const) {
      const res = await level(query, headers);
      assert.match(String(res.headers['content-type']), /^text\/plain; charset=utf-8/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(
        res.body,
        'yellow since 2026-01-01T12:01:00Z: <script>alert(1)</script> tcp/445 surge [2J\n',
      );
    }
    assert.match(
      String((await level('?format=json', { accept: 'text/plain' })).headers['content-type']),
      /json/,
    );
    assert.match(
      String((await level('', { accept: 'application/json, text/plain' })).headers['content-type']),
      /json/,
    );
    expectError(
      await r.app.inject({ method: 'GET', url: '/api/v1/threatlevel?format=html' }),
      400,
      'QUERY_INVALID',
    );
  });

  it('overrides the level for a while (admin), publishes it, and falls back when it expires or is cleared', async () => {
    const put = (payload: object) =>
      r.app.inject({ method: 'PUT', url: '/api/v1/threatlevel/override', headers: AUTH, payload });
    const now = r.clock.now();
    let res = await put({ level: 'red', reason: 'exercise', author: 'ana', expires: '1h' });
    assert.equal(res.statusCode, 200, res.body);
    assertSchema(threatLevelSchema, res.json());
    assert.equal(res.json().level, 'red');
    assert.equal(res.json().computed, 'yellow');
    assert.equal(res.json().since, new Date(now).toISOString());
    assert.equal(res.json().reason, 'set by ana: exercise');
    assert.deepEqual(res.json().override, {
      level: 'red',
      reason: 'exercise',
      author: 'ana',
      at: new Date(now).toISOString(),
      expires: new Date(now + HOUR).toISOString(),
    });
    assert.equal((await level()).json().level, 'red');
    await settle();
    assert.equal((r.heard.get(SUBJECTS.threatLevel)!.at(-1) as ThreatLevel).level, 'red');

    r.clock.advance(HOUR);
    assert.equal((await level()).json().level, 'yellow');
    assert.equal((await level()).json().override, null);

    res = await put({ level: 'orange', reason: 'hold', author: 'ana', expires: '7d' });
    assert.equal(res.json().level, 'orange');
    res = await r.app.inject({ method: 'DELETE', url: '/api/v1/threatlevel/override', headers: AUTH });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().level, 'yellow');
    assert.equal(await r.state.threatOverride(), null);
    await settle();
    assert.equal((r.heard.get(SUBJECTS.threatLevel)!.at(-1) as ThreatLevel).level, 'yellow');
  });

  it('refuses overrides without a near expiry, or with an unknown level', async () => {
    const put = (payload: object) =>
      r.app.inject({ method: 'PUT', url: '/api/v1/threatlevel/override', headers: AUTH, payload });
    const base = { level: 'red', reason: 'r', author: 'a' };
    expectError(await put(base), 400, 'BODY_INVALID');
    for (const expires of ['8d', '7d1s', new Date(r.clock.now() + 8 * 86_400_000).toISOString(), '-1h']) {
      const body = expectError(await put({ ...base, expires }), 400, 'BODY_INVALID');
      assert.equal(body.error.details[0].path, '/expires', expires);
    }
    expectError(await put({ ...base, level: 'purple', expires: '1h' }), 400, 'BODY_INVALID');
    expectError(await put({ ...base, reason: 'nul \u0000', expires: '1h' }), 400, 'BODY_INVALID');
    assert.equal(await r.state.threatOverride(), null);
  });

  it('lists changes newest first within from and to', async () => {
    await r.state.saveThreatLevel(
      {
        level: 'orange',
        since: T0 + 10 * MINUTE,
        computed: 'orange',
        reason: 'two',
        incidents: [],
        override: null,
      },
      { at: T0 + 10 * MINUTE, from: 'yellow', to: 'orange', reason: 'two incidents' },
    );
    const get = (q: string) => r.app.inject({ method: 'GET', url: `/api/v1/threatlevel/history${q}` });
    let res = await get('');
    assert.equal(res.statusCode, 200, res.body);
    assertSchema(threatHistorySchema, res.json());
    assert.deepEqual(res.json().changes, [
      { at: new Date(T0 + 10 * MINUTE).toISOString(), from: 'yellow', to: 'orange', reason: 'two incidents' },
      { at: new Date(T0 + MINUTE).toISOString(), from: 'green', to: 'yellow', reason: 'tcp/445 surge' },
    ]);
    res = await get(`?to=${new Date(T0 + 10 * MINUTE).toISOString()}`);
    assert.deepEqual(
      res.json().changes.map((c: { to: string }) => c.to),
      ['yellow'],
    );
    res = await get(`?from=${T0 + 2 * MINUTE}&limit=5`);
    assert.deepEqual(
      res.json().changes.map((c: { to: string }) => c.to),
      ['orange'],
    );
    res = await get('?limit=1');
    assert.equal(res.json().changes.length, 1);
    expectError(await get(`?from=${T0 + HOUR}&to=${T0}`), 400, 'QUERY_INVALID');
    expectError(await get('?from=noon'), 400, 'QUERY_INVALID');
    expectError(await get('?limit=5000'), 400, 'QUERY_INVALID');
  });
});

describe('admin routes with no admin token', () => {
  it('are disabled, with a message that says how to enable them', async () => {
    const r = await rig('');
    try {
      const res = await r.app.inject({
        method: 'DELETE',
        url: '/api/v1/threatlevel/override',
        headers: { authorization: 'Bearer ' },
      });
      assert.match(expectError(res, 401, 'ADMIN_UNAUTHORIZED').error.message, /disabled/);
      assert.equal((await r.app.inject({ method: 'GET', url: '/api/v1/threatlevel' })).statusCode, 200);
    } finally {
      await r.close();
    }
  });
});
