// Request validation, one Ajv per part of the request: query strings and path parameters arrive
// as text, so their numbers and booleans are coerced from it; a JSON body is taken as typed, so
// {"note": 5} is refused rather than read as "5". Nowhere is an unknown key dropped in silence:
// where a schema says additionalProperties: false, it is refused.
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function ajv(coerceTypes: Options['coerceTypes']): Ajv {
  const a = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats.default(a);
  return a;
}

export function validatorCompiler(): FastifySchemaCompiler<Record<string, unknown>> {
  const typed = ajv(false);
  const fromText = ajv('array');
  return ({ schema, httpPart }) => (httpPart === 'body' ? typed : fromText).compile(schema);
}
