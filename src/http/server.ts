/**
 * The node's HTTP API: thin routes over the capabilities, problem+json errors, OpenAPI docs at /docs.
 */
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { writeRecord } from '../audit/records.ts';
import { sealIntervalFromEnv, startSequencer, type Sequencer } from '../audit/sequencer.ts';
import { OpenPrumError } from '../errors/index.ts';
import { federationRoutes } from '../exchange/officer-routes.ts';
import { bulkComparisonRoutes } from '../exchange/bulk-routes.ts';
import { followUpRoutes } from '../followup/routes.ts';
import { safeguardRoutes } from '../safeguards/routes.ts';
import { rightsRoutes } from '../rights/routes.ts';
import { noticeRoutes } from '../notices/routes.ts';
import type { NodeContext } from '../node/node.ts';
import { authorise } from './auth.ts';
import { problemFrom, toOpenPrumError } from './problem.ts';
import { auditRoutes } from './routes/audit.ts';
import { dnaRoutes } from './routes/dna.ts';
import { fingerprintRoutes } from './routes/fingerprints.ts';
import { officerRoutes } from './routes/officers.ts';
import { recordRoutes } from './routes/records.ts';
import { vehicleRoutes } from './routes/vehicles.ts';

export interface ServerOptions {
  /** pino level; 'silent' in tests. */
  readonly logLevel?: string;
  /** Largest request body in bytes (default 64 KiB: searches are small). */
  readonly bodyLimit?: number;
  /**
   * How often the audit sequencer integrates new records into the signed log while the server listens
   * (default OPENPRUM_AUDIT_SEAL_INTERVAL_MS or 1000 ms). Not started for inject()-only test servers.
   */
  readonly auditSealIntervalMs?: number;
}

export async function buildServer(node: NodeContext, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      // Tokens and personal data stay out of the log; the record holds what the law asks for.
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    ajv: {
      // Unknown fields are errors, not silently dropped; types are never coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
  });
  // Only JSON bodies: text/plain would otherwise be accepted as a string.
  app.removeContentTypeParser('text/plain');

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.setErrorHandler(async (err, request, reply) => {
    const e = toOpenPrumError(err);
    if (e.code === 'internal') request.log.error({ err }, 'internal error');
    if (e.code === 'forbidden' && request.caller) {
      // A call without the right role is refused and the refusal recorded.
      try {
        await writeRecord(node.db, {
          action: 'access.refused',
          direction: 'local',
          searchingBody: `${node.country} NCP`,
          administeringBody: `${node.country} NCP`,
          officerId: request.caller.officerId,
          officerReference: request.caller.reference,
          query: { method: request.method, route: request.routeOptions.url ?? request.url },
          outcome: 'refused',
          requestId: request.id,
        });
      } catch (recordErr) {
        request.log.error({ err: recordErr }, 'could not record a refusal');
      }
    }
    const problem = problemFrom(e.code, e.message, e.details);
    problem.instance = `urn:uuid:${request.id}`;
    return reply.code(problem.status).type('application/problem+json').send(problem);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const problem = problemFrom('not-found', `No route ${request.method} ${request.url.split('?')[0]}; the API is described at /docs`);
    return reply.code(404).type('application/problem+json').send(problem);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `OpenPrüm national contact point (${node.country})`,
        version: '0.1.0',
        description:
          'Automated hit/no-hit searches under the Prüm Decision (2008/615/JHA) with the record of every supply (Art. 30). ' +
          'Errors are RFC 9457 problem+json with a stable `code`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API token opr_<id>_<secret>' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('preHandler', authorise(node));

  app.get('/health', { schema: { summary: 'Liveness', security: [], tags: ['node'] } }, async () => {
    return { status: 'ok', country: node.country };
  });

  await app.register(officerRoutes(node));
  await app.register(vehicleRoutes(node));
  await app.register(dnaRoutes(node));
  await app.register(fingerprintRoutes(node));
  await app.register(recordRoutes(node));
  await app.register(federationRoutes(node));
  await app.register(bulkComparisonRoutes(node));
  await app.register(followUpRoutes(node));
  // Purpose binding, conditions, deadlines (its job runs while the server listens), accuracy, onward transfer.
  await app.register(safeguardRoutes(node));
  await app.register(noticeRoutes(node));
  await app.register(auditRoutes(node));
  await app.register(rightsRoutes(node));

  // The audit log's sequencer runs while the node serves (src/audit/sequencer.ts), and stops before
  // the node's database is closed (app.close() precedes node.close()).
  const sealIntervalMs = options.auditSealIntervalMs ?? sealIntervalFromEnv();
  let sequencer: Sequencer | undefined;
  app.addHook('onListen', async () => {
    sequencer ??= startSequencer(node, { intervalMs: sealIntervalMs, onError: (err) => app.log.error({ err }, 'audit sequencer: sealing failed') });
  });
  app.addHook('onClose', async () => {
    await sequencer?.stop();
  });
  return app;
}

export { OpenPrumError };
