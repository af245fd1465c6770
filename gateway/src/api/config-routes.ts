// The config file through the local API, for the commissioning page: read it (secrets redacted),
// change it with a merge patch that is checked like start-up's config and applied without a
// restart, and upload the TLS files the cloud link needs. Edits are serialised: two field techs
// (or a tab left open) cannot interleave a read-patch-write.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../../../common/src/config.js';
import { planApply, type ApplyResult } from '../config/apply.js';
import { configWritable, editConfigFile, envOverrideKeys, readRawConfig, validateRaw, writeConfigAtomic } from '../config/file.js';
import type { GatewayConfig } from '../config/schema.js';
import { redact } from '../config/secrets.js';
import { FieldlineError, GatewayError } from '../errors.js';

export interface ConfigApiDeps {
  /** The YAML file the gateway was started with; null without --config (edits answer 409). */
  file: string | null;
  /** Absolute; uploaded TLS files go to <dataDir>/certs. */
  dataDir: string;
  /** The settings the gateway runs with now. */
  running: () => GatewayConfig;
  reconfigure: (next: GatewayConfig) => Promise<ApplyResult>;
  /** Where FIELDLINE_GATEWAY_* overrides come from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The queue every edit of the file goes through (cloud config versions share it); default one of these routes' own. */
  serialize?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Called after an edit that changed the file: a change made on site wins over cloud versions issued before it. */
  onLocalChange?: () => void;
}

const FILE_NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;
// One or more PEM blocks; encrypted keys carry Proc-Type/DEK-Info headers inside the block.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n:,\- ]+?-----END \1-----/;

export function configRoutes(app: FastifyInstance, deps: ConfigApiDeps): void {
  const env = deps.env ?? process.env;
  for (const type of ['application/merge-patch+json', 'application/x-pem-file']) {
    if (app.hasContentTypeParser(type)) continue;
    app.addContentTypeParser(type, { parseAs: 'string' }, (req, body, done) => {
      if (type === 'application/x-pem-file') return done(null, body);
      try {
        done(null, JSON.parse(body as string));
      } catch (err) {
        done(new GatewayError('FL_ERR_API_BAD_REQUEST', `the body is not JSON: ${(err as Error).message}`), undefined);
      }
    });
  }
  let queue: Promise<unknown> = Promise.resolve();
  const serially = deps.serialize ?? (<T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => undefined);
    return run;
  });

  app.get('/config', async () => {
    const envKeys = envOverrideKeys(env);
    if (!deps.file) return { file: null, config: null, effective: redact(deps.running()), envOverrides: envKeys, writable: false };
    try {
      const { raw } = readRawConfig(deps.file);
      return { file: deps.file, config: redact(raw), effective: redact(validateRaw(raw, env)), envOverrides: envKeys, writable: configWritable(deps.file) };
    } catch (err) {
      // Someone broke the file by hand: show what runs, and what is wrong with the file.
      if (!(err instanceof ConfigError)) throw err;
      return { file: deps.file, config: null, effective: redact(deps.running()), envOverrides: envKeys, writable: configWritable(deps.file), issues: err.issues };
    }
  });

  app.patch<{ Querystring: { dryRun?: string } }>('/config', async (req, reply) => {
    const file = deps.file;
    if (!file) throw new GatewayError('FL_ERR_CONFIG_NO_FILE');
    const dryRun = req.query.dryRun === 'true' || req.query.dryRun === '1';
    return serially(async () => {
      let edit;
      try {
        edit = editConfigFile(file, req.body, { env, dryRun });
      } catch (err) {
        if (err instanceof ConfigError) return invalid(reply, err);
        if (err instanceof FieldlineError) throw err;
        throw new GatewayError('FL_ERR_CONFIG_WRITE', `${file}: ${(err as Error).message}`);
      }
      if (dryRun) {
        const plan = planApply(deps.running(), edit.config);
        const would = [...(plan.pipeline ? ['pipeline'] : []), ...Object.entries(plan.adapters).filter(([, a]) => a !== 'none').map(([n]) => n), ...(plan.kafka ? ['kafka'] : [])];
        return { config: redact(edit.raw), backup: null, applied: [], restartRequired: plan.restartRequired, failed: [], dryRun: true, wouldApply: would };
      }
      const result = await deps.reconfigure(edit.config);
      if (edit.changed) deps.onLocalChange?.();
      return { config: redact(edit.raw), backup: edit.backup, ...result };
    });
  });

  app.put<{ Params: { name: string } }>('/config/files/:name', async (req) => {
    const { name } = req.params;
    if (!FILE_NAME.test(name) || name.includes('..')) throw new GatewayError('FL_ERR_CONFIG_FILE_NAME', `got ${JSON.stringify(name.slice(0, 120))}`);
    const body = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : null;
    if (body === null || !PEM_BLOCK.test(body)) {
      throw new GatewayError('FL_ERR_CONFIG_NOT_PEM', `${name}: send the file as text (content-type text/plain or application/x-pem-file)${body === null ? '' : `; it starts ${JSON.stringify(body.slice(0, 40))}`}`);
    }
    const path = join(resolve(deps.dataDir), 'certs', name);
    // Private keys land here: the folder is the service user's alone.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    await serially(async () => writeConfigAtomic(path, body.endsWith('\n') ? body : `${body}\n`, 0));
    return { path };
  });
}

function invalid(reply: FastifyReply, err: ConfigError): FastifyReply {
  return reply.status(400).send({ error: { code: err.code, message: err.message, issues: err.issues } });
}
