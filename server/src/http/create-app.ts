import path from 'node:path';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config, TrustProxySetting } from '../config/config.ts';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../db/database.ts';
import { registerAnthropicMessages } from '../gateway/anthropic-messages.ts';
import { registerKeyAuthentication } from '../gateway/authenticate.ts';
import { registerChatCompletions } from '../gateway/chat-completions.ts';
import { registerEmbeddings } from '../gateway/embeddings.ts';
import type { GatewayContext } from '../gateway/gateway-context.ts';
import { KeyAuthenticator } from '../gateway/key-authenticator.ts';
import { TokenCounter } from '../gateway/meter/token-counter.ts';
import { UsageJournal } from '../gateway/meter/usage-journal.ts';
import { registerModels } from '../gateway/models.ts';
import type { UsageRecordInsert } from '../db/schema.ts';
import { newRequestId } from '../lib/ids.ts';
import { KeyRepository, KeyService } from '../modules/keys/index.ts';
import { RegistryService } from '../modules/registry/index.ts';
import { SecretBox } from '../lib/secret-box.ts';
import { UsageRepository } from '../modules/usage/index.ts';
import { UserRepository } from '../modules/users/index.ts';
import type { ApiContext } from '../api/api-context.ts';
import { ActorResolver } from '../api/actor-resolver.ts';
import { replayableAuthorizer } from '../api/idempotency.ts';
import { registerManagementApi } from '../api/management-api.ts';
import { registerOpenApi } from '../api/openapi.ts';
import { managementRoutes } from '../api/routes/index.ts';
import { managementRoutesV2 } from '../api/routes/organizations-v2-routes.ts';
import { AccessTokens, createIdentityServices, createMailer, type Mailer } from '../modules/identity/index.ts';
import { Authorizer, bootstrapAdmin, type BootstrapResult } from '../modules/tenancy/index.ts';
import { AppError } from '../errors/app-error.ts';
import { registerConsolePages } from './console-pages.ts';
import { InFlightHandlers } from './in-flight-handlers.ts';
import { answerFrameworkError, registerErrorHandling } from './error-handler.ts';
import { registerHealth } from './health.ts';
import { createRouting } from './routing-setup.ts';
import { createTraffic, type Traffic } from './traffic-setup.ts';
import { registerTrafficControl } from '../gateway/traffic/traffic-hook.ts';
import { TrafficService } from '../modules/traffic/index.ts';
import { lazySchemaCompilers } from './lazy-schema-compilers.ts';

export interface AppServices {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly keys: KeyService;
  readonly users: UserRepository;
  readonly usage: UsageRepository;
  readonly gateway: GatewayContext;
  readonly accessTokens: AccessTokens;
  readonly api: ApiContext;
  readonly traffic: Traffic;
}

export interface AppInstance {
  readonly app: FastifyInstance;
  readonly services: AppServices;
  readonly bootstrap: BootstrapResult;
  /** Readiness answers 503 from now on (a load balancer stops sending new requests); nothing else changes. */
  startDraining(): void;
  /**
   * Stops accepting connections, lets in-flight requests and streams finish (cut after `timeoutMs` when given), then
   * flushes the usage journal and releases everything.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

export interface CreateAppOptions {
  logger?: FastifyServerOptions['logger'];
  /** Overrides the database location (tests use a per-run PostgreSQL schema). */
  database?: DatabaseHandle;
  /** Where account emails go (tests capture them); default: SMTP from config, or the log. */
  mailer?: Mailer;
  /** The clock key expiry and rotation grace are judged by (tests move it instead of sleeping). */
  now?: () => number;
}

/** Builds the whole service: storage, gateway pieces and HTTP routes. Tests drive the result in-process. */
export async function createApp(config: Config, options: CreateAppOptions = {}): Promise<AppInstance> {
  const database =
    options.database ??
    openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, ...config.databaseTimeouts });
  await migrateToLatest(database.db);

  // Replayable: idempotent replays re-run the checks the first request passed (api/idempotency.ts).
  const authorizer = replayableAuthorizer(new Authorizer(database.db));
  const keys = new KeyService(new KeyRepository(database.db), {
    access: authorizer,
    ...(options.now ? { now: options.now } : {}),
  });
  const users = new UserRepository(database.db);
  const usage = new UsageRepository(database.db, database.sqlite);
  const bootstrap = await bootstrapAdmin(database.db, keys, config.bootstrapKey);

  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
    },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Off by default: X-Forwarded-For is believed only from the proxies the operator names (docs/operations.md).
    trustProxy: toFastifyTrustProxy(config.operations.trustProxy),
    genReqId: () => newRequestId(),
    schemaController: lazySchemaCompilers(),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    frameworkErrors: answerFrameworkError,
  });
  // Before any route exists: gateway handlers are counted so shutdown can wait for their usage records.
  const gatewayHandlers = new InFlightHandlers();
  gatewayHandlers.track(app, '/v1/');

  const journal = new UsageJournal({
    directory: path.join(config.dataDir, 'usage-journal'),
    sink: usage,
    flushIntervalMs: config.metering.flushIntervalMs,
    maxBatchSize: config.metering.maxBatchSize,
    ...(config.metering.maxPendingInMemory === undefined
      ? {}
      : { maxPendingInMemory: config.metering.maxPendingInMemory }),
    ...(config.metering.retryMaxMs === undefined ? {} : { retryMaxMs: config.metering.retryMaxMs }),
    afterBatch: (records) => keys.touchLastUsed(latestUsePerKey(records)),
    // Once per outage: the backlog in /health/ready says how it goes from there.
    onError: (error) => {
      if (journal.backlog().consecutiveFailures <= 1) {
        app.log.error({ err: error }, 'usage batch could not be written; kept in the journal, retrying with backoff');
      }
    },
  });
  const replay = await journal.start();
  if (replay.replayed > 0) app.log.info(replay, 'usage records recovered from the journal');
  database.observe((fault) => {
    if (fault.kind === 'recovered') app.log.warn({ downForMs: fault.downForMs }, 'database reachable again');
    else if (fault.kind === 'unavailable') app.log.error({ err: fault.error }, 'database unreachable: answering 503');
    else app.log.warn({ err: fault.error }, 'a pooled database connection was lost; it will be replaced');
  });

  const authenticator = new KeyAuthenticator(keys, {
    revocationPollMs: config.keyRevocationPollMs,
    ...(options.now ? { now: options.now } : {}),
    // During a database outage the outage itself is logged once; a failed poll every second would only add noise.
    onPollError: (error) => {
      if (database.reachability().reachable) app.log.warn({ err: error }, 'could not check for revoked keys');
    },
  });
  await authenticator.start();

  registerErrorHandling(app);
  // Every API here takes JSON; plain text would otherwise be accepted as a string body and fail validation oddly.
  app.removeContentTypeParser('text/plain');
  // A callback hook rather than an async one: it runs on every request, and a promise per request is measurable.
  let draining = false;
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (draining) {
      // Clients reconnect elsewhere for their next request instead of holding a connection to a closing instance.
      reply.header('connection', 'close');
      if (request.url === '/health/ready') {
        done(new AppError('service_unavailable', 'shutting down: this instance takes no new requests'));
        return;
      }
    }
    done();
  });
  registerHealth(app, { database, usageBacklog: () => journal.backlog() });
  registerConsolePages(app);
  await registerOpenApi(app);
  const accessTokens = new AccessTokens(config.secretKey, config.identity.accessTokenTtlSeconds);
  const mailer = options.mailer ?? createMailer(config.identity, app.log);
  const registryService = new RegistryService({
    db: database.db,
    config,
    secretBox: new SecretBox(config.secretKey),
  });
  const routing = await createRouting(config, registryService, app.log, options.now);
  await routing.registry.start();
  const traffic = await createTraffic(
    config,
    new TrafficService({ db: database.db, ...(options.now ? { now: options.now } : {}) }),
    app.log,
    options.now,
  );
  const apiContext: ApiContext = {
    config,
    db: database.db,
    authorizer,
    accessTokens,
    keys,
    identity: createIdentityServices({ db: database.db, config, accessTokens, mailer, log: app.log }),
    registry: registryService,
    routing: {
      deployments: () => routing.runtime.health(routing.registry.table),
      enable: (credentialKey) => routing.runtime.enable(credentialKey),
    },
    traffic: traffic.admin,
  };
  const gateway: GatewayContext = {
    authenticator,
    registry: routing.registry,
    router: routing.runtime.router,
    upstream: routing.upstream,
    journal,
    tokenCounter: new TokenCounter(),
  };

  await registerManagementApi(app, {
    db: database.db,
    actors: new ActorResolver({
      accessTokens,
      keys: authenticator,
      sessions: apiContext.identity.sessions,
      users,
      csrfSecret: config.secretKey,
    }),
    routes: managementRoutes.map((register) => (api: FastifyInstance) => register(api, apiContext)),
    v2Routes: managementRoutesV2.map((register) => (api: FastifyInstance) => register(api, apiContext)),
    authorizer: apiContext.authorizer,
    idempotencyTtlSeconds: config.idempotencyTtlSeconds,
  });
  await app.register(async (v1) => {
    registerKeyAuthentication(v1, authenticator);
    registerTrafficControl(v1, traffic.control, routing.registry);
    registerChatCompletions(v1, gateway);
    registerAnthropicMessages(v1, gateway);
    registerEmbeddings(v1, gateway);
    registerModels(v1, gateway);
  });

  let closed = false;
  const close = async (closeOptions: { timeoutMs?: number } = {}): Promise<void> => {
    if (closed) return;
    closed = true;
    draining = true;
    const deadline =
      closeOptions.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            app.log.warn({ timeoutMs: closeOptions.timeoutMs }, 'shutdown deadline reached: cutting open connections');
            app.server.closeAllConnections();
          }, closeOptions.timeoutMs);
    // A keep-alive connection whose last response just ended would hold close() open until the client drops it.
    const idleSweep = setInterval(() => app.server.closeIdleConnections(), 100);
    await app.close();
    clearInterval(idleSweep);
    clearTimeout(deadline);
    // A connection cut at the deadline ends its handler a few ticks later, when it records the usage.
    await gatewayHandlers.settled(5000);
    authenticator.stop();
    routing.registry.stop();
    await routing.runtime.close();
    await traffic.close();
    await journal.close();
    await gateway.upstream.close();
    await gateway.tokenCounter.close();
    mailer.close();
    await database.close();
  };

  return {
    app,
    services: { config, database, keys, users, usage, gateway, accessTokens, api: apiContext, traffic },
    bootstrap,
    startDraining: () => {
      draining = true;
    },
    close,
  };
}

/** A hop count becomes the trust function Fastify builds for numbers itself (its types only admit the function). */
function toFastifyTrustProxy(
  setting: TrustProxySetting,
): boolean | string[] | ((address: string, hopIndex: number) => boolean) {
  if (typeof setting === 'number') return (_address, hopIndex) => hopIndex < setting;
  return setting === false ? false : [...setting];
}

function latestUsePerKey(records: readonly UsageRecordInsert[]): Map<string, number> {
  const latest = new Map<string, number>();
  for (const record of records) {
    if (record.key_id && (latest.get(record.key_id) ?? 0) < record.created_at)
      latest.set(record.key_id, record.created_at);
  }
  return latest;
}
