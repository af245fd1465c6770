// Devices and their telemetry (DESIGN.md "Cloud API"): GET /v1/devices, GET and PATCH
// /v1/devices/{id}, and the device's readings, aggregates and latest values. Reads need
// read:telemetry; a device behind a gateway outside the token's fleet answers 404 on every path,
// exactly like one that does not exist (api/access.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CloudError } from '../errors.js';
import type { LakeReader } from '../lake/reader.js';
import {
  AggregateQueries, BUCKETS, bucketSpan, KEEP_ALL, PERCENTILES,
  type AggregateAnswer, type BucketName, type Percentile, type Retention,
} from '../store/aggregates.js';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import { DeviceCatalog, type DevicePatch, type DeviceRecord } from '../store/devices.js';
import type { Store } from '../store/store.js';
import { AggregateCache } from './aggregate-cache.js';
import { guard, fleetFilter, principalOf, seesGateway } from './access.js';
import type { Authenticator } from './auth.js';
import { ERROR_RESPONSES, idParams, isoTime, pageQuery, text, timeParam } from './schemas.js';
import { parseLimit, parseTime } from './time.js';

/** The api.query config section (config/schema.ts), and what the aggregates need besides. */
export interface QuerySettings {
  maxPoints: number;
  percentilesMaxRangeMs: number;
  percentilesMaxRows: number;
  cacheTtlMs: number;
  cacheEntries: number;
  /** What the database keeps (the timescale section): older ranges are read from the lake. */
  retention: Retention;
  /** Epoch ms; tests move it. */
  now?: () => number;
  /** Tests pass their own to count hits. */
  cache?: AggregateCache<AggregateAnswer>;
}

export const DEFAULT_QUERY_SETTINGS: QuerySettings = {
  maxPoints: 10_000,
  percentilesMaxRangeMs: 7 * 86_400_000,
  percentilesMaxRows: 2_000_000,
  cacheTtlMs: 5_000,
  cacheEntries: 1_000,
  retention: KEEP_ALL,
};

export interface DeviceRouteDeps {
  store: Store;
  auth: Authenticator;
  maxLimit: number;
  query?: QuerySettings | undefined;
  lake?: (() => Promise<LakeReader | null>) | undefined;
}

const DAY_MS = 86_400_000;
/** An automatic bucket is the narrowest that keeps the answer within this many points. */
export const AUTO_MAX_POINTS = 1_500;
const DEVICE_PAGE = 10_000;

/** The narrowest bucket giving at most AUTO_MAX_POINTS points over [fromMs, toMs]; 1d beyond. */
export function autoBucket(fromMs: number, toMs: number): BucketName {
  for (const b of ['1m', '1h'] as const) if (bucketSpan(b, fromMs, toMs).count <= AUTO_MAX_POINTS) return b;
  return '1d';
}

type Query = Record<string, string | number | undefined>;
const str = (v: string | number | undefined): string | undefined => (v === undefined ? undefined : String(v));

export function registerDeviceRoutes(app: FastifyInstance, deps: DeviceRouteDeps): void {
  const settings = deps.query ?? DEFAULT_QUERY_SETTINGS;
  const now = settings.now ?? Date.now;
  const catalog = new DeviceCatalog(deps.store.db);
  const aggregates = new AggregateQueries(deps.store.db, settings.retention, deps.lake);
  const cache = settings.cache ?? new AggregateCache<AggregateAnswer>({ ttlMs: settings.cacheTtlMs, maxEntries: settings.cacheEntries, now });
  const read = guard(deps.auth, 'read:telemetry');

  /** The device, if this token may see it; 404 otherwise, whichever the reason. */
  const visible = async (req: FastifyRequest, id: string): Promise<DeviceRecord> => {
    const d = await catalog.get(id);
    if (!d || !seesGateway(principalOf(req), d.gatewayId)) throw new CloudError('FL_ERR_API_DEVICE_NOT_FOUND', id);
    return d;
  };

  app.get<{ Querystring: Query }>('/v1/devices', {
    onRequest: read,
    schema: {
      tags: ['devices'],
      summary: 'Devices in the token\'s fleet, by device id',
      querystring: {
        type: 'object',
        properties: {
          gateway: { ...text(256), description: 'only the devices behind this gateway' },
          q: { ...text(200), description: 'case-insensitive substring of the device id or name' },
          ...pageQuery(DEVICE_PAGE),
        },
      },
      response: { ...ERROR_RESPONSES, 200: { type: 'object', properties: { devices: { type: 'array', items: DEVICE_SCHEMA }, next_cursor: NULLABLE_STRING } } },
    },
  }, async (req) => {
    const q = req.query;
    const limit = Number(q.limit ?? DEVICE_PAGE);
    const after = q.cursor === undefined ? undefined : deviceCursor(String(q.cursor));
    const rows = await catalog.list({ fleet: fleetFilter(principalOf(req)), gateway: str(q.gateway), search: str(q.q), after, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { devices: page.map(deviceView), next_cursor: rows.length > limit && last ? encodeCursor(1, [last.deviceId]) : null };
  });

  app.get<{ Params: { id: string } }>('/v1/devices/:id', {
    onRequest: read,
    schema: { tags: ['devices'], summary: 'One device with its metadata', params: idParams, response: { ...ERROR_RESPONSES, 200: DEVICE_SCHEMA } },
  }, async (req) => deviceView(await visible(req, req.params.id)));

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>('/v1/devices/:id', {
    onRequest: guard(deps.auth, 'write:rules'),
    schema: {
      tags: ['devices'],
      summary: 'Edit a device\'s metadata (operators: write:rules); a field left out stays, null clears it',
      params: idParams,
      body: PATCH_SCHEMA,
      response: { ...ERROR_RESPONSES, 200: DEVICE_SCHEMA },
    },
  }, async (req) => {
    await visible(req, req.params.id);
    const b = req.body;
    const patch: DevicePatch = {};
    if ('name' in b) patch.name = b.name as string | null;
    if ('type' in b) patch.type = b.type as string | null;
    if ('location' in b) patch.location = b.location as DevicePatch['location'];
    if ('tags' in b) patch.tags = b.tags as DevicePatch['tags'];
    if ('expected_interval_ms' in b) patch.expectedIntervalMs = b.expected_interval_ms as number | null;
    const updated = await catalog.patch(req.params.id, patch);
    if (!updated) throw new CloudError('FL_ERR_API_DEVICE_NOT_FOUND', req.params.id);
    return deviceView(updated);
  });

  app.get<{ Params: { id: string }; Querystring: Query }>('/v1/devices/:id/readings', {
    onRequest: read,
    schema: {
      tags: ['telemetry'],
      summary: 'Raw readings, oldest first, a page at a time (from and to inclusive; default the last 24 hours)',
      params: idParams,
      querystring: {
        type: 'object',
        properties: {
          metric: text(1024),
          from: timeParam('start (default: 24 hours before `to`)'),
          to: timeParam('end, inclusive (default: now)'),
          ...pageQuery(deps.maxLimit),
        },
      },
      response: {
        ...ERROR_RESPONSES,
        200: {
          type: 'object',
          properties: {
            device_id: { type: 'string' },
            metric: NULLABLE_STRING,
            readings: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  ts: isoTime,
                  metric: { type: 'string', description: 'when no metric was asked for' },
                  value: { type: 'number' },
                  flag: { type: 'string', description: 'only on a reading whose gateway could not trust or correct its clock: why (FL_ERR_CLOCK_…); ts is then the untrusted time' },
                },
              },
            },
            next_cursor: NULLABLE_STRING,
          },
        },
      },
    },
  }, async (req) => {
    const q = req.query;
    const to = parseTime('to', str(q.to), new Date(now()));
    const from = parseTime('from', str(q.from), new Date(to.getTime() - DAY_MS));
    if (from > to) throw new CloudError('FL_ERR_API_BAD_PARAM', 'from is after to');
    checkTimes(['from', from.getTime()]);
    const limit = parseLimit(str(q.limit), 1000, deps.maxLimit);
    const deviceId = req.params.id;
    await visible(req, deviceId);
    const metric = str(q.metric);
    const page = await deps.store.readings({ deviceId, from, to, limit, metric, cursor: str(q.cursor) });
    return {
      device_id: deviceId,
      metric: metric ?? null,
      readings: page.readings.map((r) => ({
        ...(metric ? { ts: r.ts.toISOString(), value: r.value } : { ts: r.ts.toISOString(), metric: r.metric, value: r.value }),
        ...(r.flag ? { flag: r.flag } : {}),
      })),
      next_cursor: page.nextCursor,
    };
  });

  app.get<{ Params: { id: string }; Querystring: Query }>('/v1/devices/:id/aggregates', {
    onRequest: read,
    schema: {
      tags: ['telemetry'],
      summary: 'Per-bucket avg, min, max, count, last (and percentiles) of one metric, from the database or the lake',
      description:
        'Whole buckets from the one holding `from` to the one holding `to` (default: the last 24 hours). Without `bucket`, the narrowest of ' +
        `1m, 1h, 1d that gives at most ${AUTO_MAX_POINTS} points. Ranges older than the database keeps are read from the Parquet lake; ` +
        '`source` says which answered. Percentiles are computed from raw readings, for bounded ranges only.',
      params: idParams,
      querystring: {
        type: 'object',
        required: ['metric'],
        properties: {
          metric: text(1024),
          bucket: { type: 'string', enum: Object.keys(BUCKETS) },
          from: timeParam('start (default: 24 hours before `to`)'),
          to: timeParam('end, inclusive (default: now)'),
          percentiles: { type: 'string', pattern: '^(50|95|99)(,(50|95|99))*$', description: 'any of 50,95,99, comma-separated' },
        },
      },
      response: {
        ...ERROR_RESPONSES,
        200: {
          type: 'object',
          properties: {
            device_id: { type: 'string' },
            metric: { type: 'string' },
            bucket: { type: 'string', enum: Object.keys(BUCKETS) },
            source: { type: 'string', enum: ['hot', 'lake', 'mixed'] },
            points: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  ts: { type: 'string', format: 'date-time', description: 'bucket start' },
                  avg: { type: 'number' }, min: { type: 'number' }, max: { type: 'number' },
                  count: { type: 'integer' }, last: { type: 'number' },
                  p50: { type: 'number' }, p95: { type: 'number' }, p99: { type: 'number' },
                },
              },
            },
          },
        },
      },
    },
  }, async (req) => {
    const q = req.query;
    const nowMs = now();
    const to = parseTime('to', str(q.to), new Date(nowMs)).getTime();
    const from = parseTime('from', str(q.from), new Date(to - DAY_MS)).getTime();
    if (from > to) throw new CloudError('FL_ERR_API_BAD_PARAM', 'from is after to');
    checkTimes(['from', from]);
    const metric = String(q.metric);
    const bucket = (str(q.bucket) as BucketName | undefined) ?? autoBucket(from, to);
    const span = bucketSpan(bucket, from, to);
    if (span.count > settings.maxPoints) {
      throw new CloudError('FL_ERR_API_RANGE_TOO_LARGE', `bucket=${bucket} over this range gives ${span.count} points, at most ${settings.maxPoints}: take a wider bucket or a shorter range`);
    }
    const percentiles = parsePercentiles(str(q.percentiles));
    const deviceId = req.params.id;
    await visible(req, deviceId);
    if (percentiles.length > 0) {
      if (to - from > settings.percentilesMaxRangeMs) {
        throw new CloudError('FL_ERR_API_RANGE_TOO_LARGE', `percentiles are computed over at most ${settings.percentilesMaxRangeMs} ms of readings (api.query.percentilesMaxRangeMs); this range is ${to - from} ms`);
      }
      const rows = await aggregates.countRows(deviceId, metric, span.startMs, span.endMs);
      if (rows > settings.percentilesMaxRows) {
        throw new CloudError('FL_ERR_API_RANGE_TOO_LARGE', `percentiles over this range would sort ${rows} readings, at most ${settings.percentilesMaxRows} (api.query.percentilesMaxRows)`);
      }
    }
    const key = AggregateCache.key([deviceId, metric, bucket, span.startMs, span.endMs, percentiles.join(',')]);
    const answer = await cache.get(key, () => aggregates.run({ deviceId, metric, bucket, fromMs: from, toMs: to, percentiles, nowMs }));
    return {
      device_id: deviceId,
      metric,
      bucket,
      source: answer.source,
      points: answer.points.map((p) => {
        const out: Record<string, unknown> = { ts: new Date(p.tsMs).toISOString(), avg: p.avg, min: p.min, max: p.max, count: p.count, last: p.last };
        for (const [k, v] of Object.entries(p.percentiles)) out[`p${k}`] = v;
        return out;
      }),
    };
  });

  app.get<{ Params: { id: string } }>('/v1/devices/:id/latest', {
    onRequest: read,
    schema: {
      tags: ['telemetry'],
      summary: 'The newest reading of each metric the device sends',
      params: idParams,
      response: {
        ...ERROR_RESPONSES,
        200: {
          type: 'object',
          properties: {
            device_id: { type: 'string' },
            metrics: {
              type: 'object',
              additionalProperties: { type: 'object', properties: { ts: isoTime, value: { type: 'number' } } },
            },
          },
        },
      },
    },
  }, async (req) => {
    const deviceId = req.params.id;
    await visible(req, deviceId);
    const metrics: Record<string, { ts: string; value: number }> = {};
    for (const [m, r] of await catalog.latest(deviceId)) metrics[m] = { ts: r.ts.toISOString(), value: r.value };
    return { device_id: deviceId, metrics };
  });
}

/** PostgreSQL's earliest timestamptz (4713 BC); JS dates reach further back, and the database would fail on them. */
const MIN_TS_MS = -210_866_803_200_000;

function checkTimes(...times: [string, number][]): void {
  for (const [name, ms] of times) {
    if (ms < MIN_TS_MS) throw new CloudError('FL_ERR_API_BAD_PARAM', `${name} is before 4713 BC, the earliest time the database holds`);
  }
}

function parsePercentiles(raw: string | undefined): Percentile[] {
  if (raw === undefined || raw === '') return [];
  const asked = new Set(raw.split(',').map(Number));
  return PERCENTILES.filter((p) => asked.has(p));
}

function deviceCursor(text: string): string {
  const [id] = decodeCursor(text, 1, 1);
  if (typeof id !== 'string') throw new CloudError('FL_ERR_API_BAD_CURSOR', 'wrong field type');
  return id;
}

function deviceView(d: DeviceRecord): Record<string, unknown> {
  return {
    device_id: d.deviceId,
    gateway_id: d.gatewayId,
    first_seen: d.firstSeen.toISOString(),
    last_seen: d.lastSeen.toISOString(),
    metrics: d.metrics,
    name: d.name,
    type: d.type,
    location: d.location,
    tags: d.tags,
    expected_interval_ms: d.expectedIntervalMs,
  };
}

// --- schemas ---------------------------------------------------------------------------------

const NULLABLE_STRING = { type: ['string', 'null'] };

const LOCATION = {
  type: 'object',
  description: 'a point (lat and lon, WGS 84 degrees, both or neither), a free-text label, or both',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    lat: { type: 'number', minimum: -90, maximum: 90 },
    lon: { type: 'number', minimum: -180, maximum: 180 },
    label: { type: 'string', minLength: 1, maxLength: 200 },
  },
  // lat and lon together or neither (anyOf rather than `dependencies`, which OpenAPI 3.1's JSON Schema renamed).
  anyOf: [{ required: ['lat', 'lon'] }, { not: { anyOf: [{ required: ['lat'] }, { required: ['lon'] }] } }],
};

const TAGS = {
  type: 'object',
  description: 'key → value labels, e.g. {"site": "north", "line": "3"}',
  maxProperties: 64,
  propertyNames: { pattern: '^[A-Za-z0-9_.:/-]{1,64}$' },
  additionalProperties: { type: 'string', maxLength: 256 },
};

const DEVICE_SCHEMA = {
  type: 'object',
  properties: {
    device_id: { type: 'string' },
    gateway_id: { type: 'string', description: 'the gateway that delivered its newest reading' },
    first_seen: isoTime,
    last_seen: isoTime,
    metrics: { type: 'array', items: { type: 'string' } },
    name: NULLABLE_STRING,
    type: NULLABLE_STRING,
    location: { type: ['object', 'null'], properties: LOCATION.properties },
    tags: { type: 'object', additionalProperties: { type: 'string' } },
    expected_interval_ms: { type: ['integer', 'null'], description: 'how often it should send each metric; null: judged by its observed rate' },
  },
};

const PATCH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: { type: ['string', 'null'], minLength: 1, maxLength: 200 },
    type: { type: ['string', 'null'], minLength: 1, maxLength: 100 },
    // Object keywords apply to objects only, so null passes them.
    location: { ...LOCATION, type: ['object', 'null'] },
    tags: { ...TAGS, type: ['object', 'null'] },
    expected_interval_ms: { type: ['integer', 'null'], minimum: 100, maximum: 7 * DAY_MS },
  },
};
