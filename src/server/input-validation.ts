import { Ajv, type ErrorObject } from 'ajv';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { fieldPath, HealthmeshError } from '../core/index.js';

/**
 * Route schemas validate input (src/server/api-schemas.ts). Query strings and path parameters are text, so their
 * validator coerces (`?version=2` is the integer 2, one value where a list is declared is a list of one); a JSON body
 * is taken as sent, so `{"hubs": [1]}` is refused rather than turned into `["1"]`. Neither strips unknown fields: a
 * schema that refuses them says so.
 */
const textParts = new Ajv({ coerceTypes: 'array', allErrors: false, verbose: true, strictTypes: false });
const bodies = new Ajv({ coerceTypes: false, allErrors: false, verbose: true, strictTypes: false });

/** Where the field sits, and a sentence naming it: unknown and missing fields by name, else the validator's words. */
function describe(e: ErrorObject | FastifySchemaValidationError | undefined): { path: string; detail: string } {
  const at = fieldPath(e?.instancePath ?? '');
  const join = (name: string) => (at === '' ? name : `${at}.${name}`);
  const params = (e?.params ?? {}) as { additionalProperty?: string; missingProperty?: string };
  if (e?.keyword === 'additionalProperties' && params.additionalProperty !== undefined)
    return { path: join(params.additionalProperty), detail: 'is not a field of this request' };
  if (e?.keyword === 'required' && params.missingProperty !== undefined)
    return { path: join(params.missingProperty), detail: 'is required' };
  // The schema's own description says what is wanted ("a date YYYY-MM-DD") better than a regular expression does.
  const wanted = (e as ErrorObject | undefined)?.parentSchema?.description;
  return { path: at, detail: `${e?.message ?? 'is invalid'}${typeof wanted === 'string' ? ` (${wanted})` : ''}` };
}

/** A validation failure as our own error: input kind, the field named in the message and the location. */
export function validationError(
  errors: readonly (ErrorObject | FastifySchemaValidationError)[],
  part: string,
): HealthmeshError {
  const { path, detail } = describe(errors[0]);
  const where = part === 'querystring' ? 'query parameter' : part === 'params' ? 'path parameter' : part;
  return new HealthmeshError(
    'API_BAD_REQUEST',
    path === '' ? `the ${where} ${detail}` : `${where} "${path}" ${detail}`,
    path === '' ? {} : { path },
  );
}

/** Validate every route's declared input with our compilers, and report failures as `API_BAD_REQUEST`. */
export function validateInput(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodies : textParts).compile(schema));
  app.setSchemaErrorFormatter((errors, part) => validationError(errors, part));
  // Response schemas describe answers (OpenAPI, the console's types); they never filter or coerce what is sent.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}
