// Tests of the `spool` and `shipper` configuration sections, checked and decoded the way the config loader does it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Type from 'typebox';
import Value, { DecodeUnsafe } from 'typebox/value';
import { asNode } from '../../config/types.ts';
import { checkConfigValue } from '../../config/validate.ts';
import { SpoolConfigSchema, spoolOptionsFrom, type SpoolConfig } from '../spool/config.ts';
import { ShipperConfigSchema, shipperOptionsFrom, type ShipperConfig } from './config.ts';

/** The two sections as they would sit in the whole configuration. */
const Root = Type.Object(
  { spool: SpoolConfigSchema, shipper: ShipperConfigSchema },
  { additionalProperties: false, default: {} },
);
type Loaded = { spool: SpoolConfig; shipper: ShipperConfig };

/** Checks with the loader's walker (its messages), then fills defaults and decodes as the loader does. */
function load(raw: object): Loaded | { path: string; message: string }[] {
  const problems = checkConfigValue(asNode(Root), raw, {
    label: (p) => p.join('.'),
    locate: () => undefined,
  });
  if (problems.length > 0) return problems.map(({ path, message }) => ({ path, message }));
  const filled = Value.Default(Root, structuredClone(raw));
  assert.ok(Value.Check(Root, filled));
  return DecodeUnsafe({}, Root, filled) as Loaded;
}

const dir = mkdtempSync(join(tmpdir(), 'portent-shipper-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('spool and shipper configuration', () => {
  it('has documented defaults: 1 GiB cap, 64 MiB segments, fsync every 1 s, batches of 1000-10000', () => {
    assert.deepEqual(load({}), {
      spool: {
        path: './data/spool',
        max_bytes: 1024 ** 3,
        segment_bytes: 64 * 1024 ** 2,
        fsync: 1000,
        sampling_adjust_interval: 1000,
      },
      shipper: {
        url: '',
        sensor_id: '',
        sensor_secret: '',
        ca_file: '',
        min_batch_events: 1000,
        max_batch_events: 10000,
        batch_linger: 1000,
        retry_base: 500,
        retry_max: 60_000,
        request_timeout: 30_000,
      },
    });
    for (const schema of [SpoolConfigSchema, ShipperConfigSchema]) {
      for (const [key, field] of Object.entries(asNode(schema).properties ?? {}))
        assert.ok(
          field.description && field.default !== undefined,
          `${key} needs a description and a default`,
        );
    }
  });

  it('reads fsync as "always", "never" or a duration', () => {
    for (const [text, policy] of [
      ['always', 'always'],
      ['never', 'never'],
      ['250ms', 250],
      ['1m', 60_000],
    ] as const) {
      const loaded = load({ spool: { fsync: text } }) as Loaded;
      assert.equal(loaded.spool.fsync, policy);
    }
  });

  it('says what is wrong, key by key, then across keys', () => {
    const cases: [object, { path: string; message: string }[]][] = [
      [
        { spool: { fsync: 'sometimes', max_bytes: '1KiB', segment_bytes: '2GiB' } },
        [
          {
            path: 'spool.fsync',
            message: 'must be "always", "never" or a duration from 1ms to 1m such as "1s"; got "sometimes"',
          },
          { path: 'spool.max_bytes', message: 'must be a size of at least 1MiB; got "1KiB"' },
          { path: 'spool.segment_bytes', message: 'must be a size from 64KiB to 1GiB; got "2GiB"' },
        ],
      ],
      [{ spool: { fsync: 5 } }, [{ path: 'spool.fsync', message: 'must be a string; got 5' }]],
      [
        { shipper: { url: 'ftp://collector', max_batch_events: 0 } },
        [
          { path: 'shipper.url', message: 'must be an http or https URL; got the scheme "ftp"' },
          { path: 'shipper.max_batch_events', message: 'must be an integer from 1 to 1000000; got 0' },
        ],
      ],
      [
        { shipper: { url: 'the collector' } },
        [
          {
            path: 'shipper.url',
            message:
              'must be an http or https URL such as "https://portent.example.org:8470", or "" to not ship; got "the collector"',
          },
        ],
      ],
      [
        { shipper: { min_batch_events: 5000, max_batch_events: 100 } },
        [{ path: 'shipper', message: 'min_batch_events (5000) must not exceed max_batch_events (100)' }],
      ],
      [
        { shipper: { retry_base: '30s', retry_max: '10s' } },
        [{ path: 'shipper', message: 'retry_base (30s) must not exceed retry_max (10s)' }],
      ],
      [
        { shipper: { url: 'https://collector:8470' } },
        [
          {
            path: 'shipper',
            message:
              'sensor_id and sensor_secret must be set when url is: enrol the sensor with `portent sensors add NAME`',
          },
        ],
      ],
    ];
    for (const [raw, problems] of cases) assert.deepEqual(load(raw), problems, JSON.stringify(raw));
  });

  it('turns the sections into spool and shipper options, reading the CA file', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    const loaded = load({
      spool: { path: '/var/lib/portent/spool', fsync: 'always' },
      shipper: {
        url: 'https://collector:8470',
        sensor_id: 's-1',
        sensor_secret: 'k',
        ca_file: ca,
        batch_linger: '2s',
      },
    }) as Loaded;
    const spool = spoolOptionsFrom(loaded.spool);
    assert.deepEqual(
      [spool.dir, spool.fsync, spool.maxBytes, spool.segmentBytes],
      ['/var/lib/portent/spool', 'always', 1024 ** 3, 64 * 1024 ** 2],
    );
    const shipper = shipperOptionsFrom(loaded.shipper);
    assert.ok(shipper);
    assert.deepEqual(shipper.credentials, { id: 's-1', secret: 'k' });
    assert.equal(String(shipper.ca), '-----BEGIN CERTIFICATE-----\n');
    assert.equal(shipper.lingerMs, 2000);
    assert.equal(shipperOptionsFrom((load({}) as Loaded).shipper), null, 'no url: nothing is shipped');
    const missing = load({
      shipper: { url: 'https://c:1', sensor_id: 'a', sensor_secret: 'b', ca_file: join(dir, 'none.pem') },
    }) as Loaded;
    assert.throws(() => shipperOptionsFrom(missing.shipper), { code: 'CONFIG_INVALID' });
  });
});
