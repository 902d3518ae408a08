import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Request validation. JSON bodies are validated strictly: no type coercion (a number is never
 * silently turned into a string or back), extra properties removed, defaults applied. Query
 * strings, path parameters and headers arrive as strings, so they alone are coerced.
 */
const common: Options = {
  allErrors: false,
  removeAdditional: true,
  useDefaults: true,
  strict: false,
};
const bodyAjv = addFormats(new Ajv({ ...common, coerceTypes: false }));
const stringAjv = addFormats(new Ajv({ ...common, coerceTypes: 'array' }));

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : stringAjv;
  return ajv.compile(schema as object);
};
