import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type ValidatorFactory = ReturnType<typeof AjvCompiler>;
type ValidatorCompiler = ReturnType<ValidatorFactory>;
type Validate = ReturnType<ValidatorCompiler>;
type SerializerFactory = ReturnType<typeof SerializerSelector>;

/**
 * Fastify's own validator (Ajv) and serializer (fast-json-stringify) compilers, deferred to each route's first use.
 * Compiling every route at start-up generated code for ~100 management routes that a gateway-only instance never
 * serves: about a fifth of the process's resident memory. A route's first call pays its compile once.
 */
export function lazySchemaCompilers(): NonNullable<FastifyServerOptions['schemaController']> {
  const buildValidator = AjvCompiler();
  const buildSerializer = SerializerSelector();
  return {
    compilersFactory: {
      buildValidator: ((externalSchemas, options) => {
        const compile = buildValidator(externalSchemas, options);
        return (route: Parameters<ValidatorCompiler>[0]) => deferValidator(() => compile(route));
      }) satisfies ValidatorFactory,
      buildSerializer: ((externalSchemas, options) => {
        const compile = buildSerializer(externalSchemas, options);
        return (route: Parameters<ReturnType<SerializerFactory>>[0]) => {
          let serialize: ((document: unknown) => string) | undefined;
          return (document: unknown) => (serialize ??= compile(route))(document);
        };
      }) satisfies SerializerFactory,
    },
  };
}

/** Fastify reads `.errors` from the validator it was given after a failed call, so the wrapper mirrors them. */
function deferValidator(compile: () => Validate): Validate {
  let validate: Validate | undefined;
  const deferred = ((data: unknown) => {
    validate ??= compile();
    const valid = validate(data);
    deferred.errors = validate.errors;
    return valid;
  }) as Validate;
  return deferred;
}
