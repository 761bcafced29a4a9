import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

type BuildValidator = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>;

/**
 * Request validation with Fastify's own Ajv compiler, but with type coercion for bodies turned off.
 *
 * Coercion suits query strings and path parameters (they are text: `?limit=50` must become 50),
 * but a JSON body already carries types, and coercing them changes what a client meant: with a
 * `null | boolean` schema `false` became `null`, `12345` became the string "12345", `["full"]`
 * became "full". A body whose types do not match is a 400, never a guess.
 */
export function bodyStrictSchemaController(): NonNullable<FastifyServerOptions['schemaController']> {
  const fromPool = AjvCompiler();
  const buildValidator: BuildValidator = (externalSchemas, ajvOptions) => {
    const options = (ajvOptions ?? {}) as { customOptions?: Record<string, unknown>; plugins?: never[] };
    const coercing = fromPool(externalSchemas, options);
    const strict = fromPool(externalSchemas, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } });
    return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
  };
  return { compilersFactory: { buildValidator } };
}
