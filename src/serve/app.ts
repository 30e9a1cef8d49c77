/**
 * The boot service's HTTP routes (fastify). Each route declares its schema once: the request
 * body's zod schema (ops/steps/checkins.ts) is turned into the route's JSON Schema with zod's own
 * toJSONSchema, so one declaration types the handler, validates the request (fastify's Ajv, no
 * coercion, no silent removal of unknown fields) and can later be published as the API document.
 *
 *   GET  /healthz        200 {ok: true}: the readiness check
 *   GET  /boot/PATH      a file of the TFTP tree that may be sent (serve/files.ts)
 *   POST /checkin        a node's report when its boot ends (ops/steps/checkins.ts judges it)
 *
 * Every request answered or refused is one log line (pino, fastify's logger): node (where one is
 * known), path, client address, status, and the reason of a refusal. Refusals of check-ins (and
 * of anything but an unknown boot file) are also kept on disk for `status`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  CHECKIN_BODY_LIMIT,
  CheckinBody,
  judgeCheckin,
  plainAddress,
  storeCheckin,
  storeRefusals,
  type RefusalRecord,
} from '../ops/steps/checkins.js';
import { neighbourMac } from '../sys/neighbours.js';
import { log } from '../sys/log.js';
import { openBootFile } from './files.js';
import type { InventoryView } from './view.js';

/** What the service needs: the inventory's view, where check-ins live, and how a source address maps to a MAC. */
export interface ServeOptions {
  view: InventoryView;
  /** Where check-ins are kept: checkinDir(STATE) of the inventory. */
  checkins: string;
  /** The neighbour table lookup (default: /proc/net/arp). */
  neighbour?: (address: string) => string | undefined;
  logger?: Logger;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The node the request was found to be from or about (for the log line). */
    node?: string;
    /** Why it was refused (for the log line and the refusal record). */
    refusal?: string;
  }
}

/** A reply refusing the request: status, JSON {error}, and the reason kept for the log. */
function refuse(request: FastifyRequest, reply: FastifyReply, status: number, reason: string, node?: string): FastifyReply {
  request.refusal = reason;
  if (node) request.node = node;
  return reply.code(status).send({ error: reason });
}

/** The JSON Schema of a zod schema, in the draft fastify's Ajv reads. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-7' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** Whether a failed write means the disk cannot take it now (full, quota, read-only): 503, retry later. */
function diskRefused(err: unknown): boolean {
  const code = ((err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException)).code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || code === 'EIO';
}

/**
 * Builds the service (not listening: the caller listens, or a test injects requests). Its
 * onClose hook writes the refusals not yet on disk.
 */
export async function buildServeApp(opts: ServeOptions): Promise<FastifyInstance> {
  const checkins = opts.checkins;
  const neighbour = opts.neighbour ?? ((a: string) => neighbourMac(a));
  const app = Fastify({
    loggerInstance: (opts.logger ?? log()).child({ service: 'serve' }) as FastifyBaseLogger,
    // One line per request, written by the onResponse hook below, instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: CHECKIN_BODY_LIMIT,
    // A request that does not match the schema is refused, never repaired.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    return503OnClosing: true,
  });

  // Refusals kept for status: written together, at most every 200 ms, and on close.
  let pending: RefusalRecord[] = [];
  let flushing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    if (batch.length) await storeRefusals(checkins, batch.reverse()).catch((err: unknown) => app.log.warn({ err: (err as Error).message }, 'refusals could not be recorded'));
  };
  const scheduleFlush = (): void => {
    flushing ??= new Promise<void>((res) => setTimeout(res, 200)).then(flush).finally(() => (flushing = undefined));
  };

  app.setErrorHandler((err: { statusCode?: number; message: string }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err: err.message, path: request.url }, 'internal error');
    return refuse(request, reply, status, status === 500 ? 'internal error' : err.message);
  });

  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const path = request.url.split('?')[0] as string;
    const line = { node: request.node, path, from: request.ip, status, ...(request.refusal ? { reason: request.refusal } : {}), ms: Math.round(reply.elapsedTime) };
    if (status < 400) request.log.info(line, 'answered');
    else {
      request.log.warn(line, 'refused');
      if (!(status === 404 && request.method === 'GET')) {
        // The reason may quote the request (a JSON parser's message): one line, no control characters, bounded.
        const reason = (request.refusal ?? `HTTP ${status}`).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 300);
        pending.push({ at: new Date().toISOString(), from: request.ip, path: path.slice(0, 200), status, reason, ...(request.node ? { node: request.node } : {}) });
        scheduleFlush();
      }
    }
  });
  app.addHook('onClose', async () => {
    await flushing;
    await flush();
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/boot/*', async (request, reply) => {
    const raw = (request.raw.url ?? '').split('?')[0] as string;
    const data = await opts.view.current();
    const file = await openBootFile(data.site.tftpRoot, raw.slice('/boot/'.length));
    if ('status' in file) return refuse(request, reply, file.status, file.reason);
    const stream = file.handle.createReadStream();
    return reply.header('content-length', file.size).type('application/octet-stream').send(stream);
  });

  // One chain of writes per node: a node's later check-in never lands before its earlier one.
  const chains = new Map<string, Promise<unknown>>();
  app.post<{ Body: CheckinBody }>('/checkin', { schema: { body: jsonSchema(CheckinBody) } }, async (request, reply) => {
    const data = await opts.view.current();
    const address = request.socket.remoteAddress ?? request.ip;
    const judged = judgeCheckin(data, opts.view.revisionIndexes(data), request.body, { address, neighbourMac: neighbour(plainAddress(address)) });
    if ('status' in judged) return refuse(request, reply, judged.status, judged.reason, judged.node);
    request.node = judged.node;
    const write = (chains.get(judged.node) ?? Promise.resolve()).catch(() => undefined).then(() => storeCheckin(checkins, judged));
    chains.set(judged.node, write);
    try {
      await write;
    } catch (err) {
      if (diskRefused(err)) return refuse(request, reply.header('retry-after', '30'), 503, `the check-in cannot be stored: ${(err as Error).message}`, judged.node);
      throw err;
    } finally {
      if (chains.get(judged.node) === write) chains.delete(judged.node);
    }
    return { node: judged.node, stored: true };
  });

  return app;
}
