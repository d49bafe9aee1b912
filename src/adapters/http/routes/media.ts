import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { deleteMedia, isMediaContentType, readMedia, uploadMedia } from '../../../application/media.js';
import { MediaStorageError, type MediaStorage } from '../../../application/ports/media-storage.js';
import type { EventStore } from '../../../event-store/port.js';
import { ARTICLES_PROJECTION } from '../../../projections/articles.js';
import { listMedia } from '../../../read-api/articles.js';
import { MEDIA_CONTENT_TYPES } from '../../../write-model/media/events.js';
import { currentUser } from '../authenticate.js';
import { accessOf, can } from '../access.js';
import { commandContext } from '../command-context.js';
import { newResourceOwner, ownerField } from '../owner-choice.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { errorEnvelopeSchema } from '../openapi.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

/**
 * Uploaded images for articles under `/api/v1/media`: the upload (the raw
 * image as the body: the JSON body middleware leaves this path unread,
 * RAW_BODY_PATH_PREFIXES), the bytes, my list, deletion. The bytes live in
 * media storage (MEDIA_STORAGE_URL); the list is read model `articles-v1`.
 */
export interface MediaRouteDeps {
  store: EventStore;
  knex: Knex;
  storage: MediaStorage;
  /** MEDIA_MAX_BYTES */
  maxBytes: number;
  now?: () => Date;
}

const mediaSchema = z.object({
  id: z.string().describe('the media id, for an article’s cover_media_id / image_media_ids'),
  content_type: z.enum(MEDIA_CONTENT_TYPES),
  size_bytes: z.number().int(),
  width: z.number().int().nullable().describe('pixels, from the image header; null when it does not say'),
  height: z.number().int().nullable(),
  sha256: z.string().describe('of the bytes, hex; GET /media/{id} answers it as its ETag'),
  uploaded_at: z.string(),
  url: z.string().describe('GET it for the bytes'),
});

const idParams = z.object({ id: z.uuid('a media id is a UUID') });

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `the image is larger than ${limit} bytes`, { limit_bytes: limit });
}

/**
 * The request's bytes, at most `limit` of them: 413 past it, counted as they
 * arrive whatever Content-Length said. The rest is not read: the answer
 * closes the connection instead (a client still sending learns of the 413
 * and does not reuse a socket with half a body in it).
 */
function readBytes(ctx: AppContext, limit: number): Promise<Buffer> {
  const req = ctx.req;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      stop();
      req.pause();
      ctx.set('Connection', 'close');
      reject(tooLarge(limit));
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function unavailable(error: MediaStorageError): HttpError {
  return new HttpError(503, 'SERVICE_UNAVAILABLE', 'media storage is unavailable; try again', { reason: error.code ?? 'storage_error' });
}

export function mediaRouter(api: HttpApi, deps: MediaRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/media' });
  const { store, knex, storage, maxBytes } = deps;
  const clock = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      summary: 'Upload an image',
      description:
        `The image's bytes are the body, its type the Content-Type: ${MEDIA_CONTENT_TYPES.join(', ')} (415 UNSUPPORTED_MEDIA_TYPE ` +
        `otherwise), at most MEDIA_MAX_BYTES (default 5 MiB; 413 PAYLOAD_TOO_LARGE). The bytes must be that type by their magic number ` +
        '(422 VALIDATION_ERROR, details.declared and details.detected); width and height are read from the header. Answers 201 with ' +
        'the media (its id is what an article names) and the position to pass as after_position to GET /media. Not idempotent by ' +
        'Idempotency-Key: a repeat is another upload with another id. ?owner=organization makes it an image of my organization, ' +
        'which articles the organization owns name.',
      tags: ['media'],
      auth: true,
      permission: 'publishing.media.create',
      idempotent: false,
      request: { query: z.object({ owner: ownerField }) },
      rawBody: {
        contentType: MEDIA_CONTENT_TYPES,
        schema: z.string().openapi({ type: 'string', format: 'binary' }),
        description: 'the image file as it is, not multipart and not base64',
      },
      responses: {
        201: {
          description: 'uploaded',
          schema: mediaSchema.extend({ revision: z.string(), position: z.string().nullable().describe('pass as after_position to GET /media') }),
        },
      },
      errors: [400, 413, 415, 422],
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      const owner = newResourceOwner(ctx, query.owner, 'query');
      const declared = (ctx.get('Content-Type').split(';')[0] ?? '').trim().toLowerCase();
      if (!isMediaContentType(declared)) {
        // the body is not read: a large one is not worth draining to keep the connection
        ctx.set('Connection', 'close');
        throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `an upload must be one of ${MEDIA_CONTENT_TYPES.join(', ')}`, {
          allowed: MEDIA_CONTENT_TYPES,
          got: declared || null,
        });
      }
      const length = Number(ctx.get('Content-Length'));
      if (ctx.get('Content-Length') !== '' && Number.isFinite(length) && length > maxBytes) {
        ctx.set('Connection', 'close');
        throw tooLarge(maxBytes);
      }
      const bytes = await readBytes(ctx, maxBytes);
      let uploaded: Awaited<ReturnType<typeof uploadMedia>>;
      try {
        uploaded = await uploadMedia(
          { store, storage, now: clock },
          { userId: owner, context: commandContext(ctx, user.id) },
          { contentType: declared, bytes },
        );
      } catch (error) {
        if (error instanceof MediaStorageError) {
          ctx.state.logger.error({ err: error, storage: storage.description }, 'media upload: storage failed');
          throw unavailable(error);
        }
        throw error;
      }
      ctx.set('Location', `/api/v1/media/${uploaded.mediaId}`);
      commandResult(ctx, uploaded, {
        status: 201,
        extra: {
          id: uploaded.mediaId,
          content_type: uploaded.contentType,
          size_bytes: uploaded.sizeBytes,
          width: uploaded.width,
          height: uploaded.height,
          sha256: uploaded.sha256,
          uploaded_at: uploaded.uploadedAt,
          url: `/api/v1/media/${uploaded.mediaId}`,
        },
      });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'My uploaded images',
      description:
        "Newest first; deleted ones are gone. By data scope: my own; at organization scope every member's and the organization's (uploaded with ?owner=organization).",
      tags: ['media'],
      auth: true,
      permission: 'publishing.media.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of media', schema: pageSchema(mediaSchema) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, ARTICLES_PROJECTION);
      return listMedia(knex, accessOf(ctx).ownerIds, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      summary: "An image's bytes",
      description:
        'The bytes with their Content-Type (not the envelope), `X-Content-Type-Options: nosniff`, and the strong ETag `"<sha256>"` ' +
        '(If-None-Match: 304). Those of owners in my data scope; platform reviewers and admins (platform.reviews.view) may read anyone’s. Unknown, deleted or another user’s: 404.',
      tags: ['media'],
      auth: true,
      permission: 'publishing.media.view',
      envelope: false,
      request: { params: idParams },
      responses: {
        200: { description: 'the image', contentType: 'image/*', schema: z.string().openapi({ type: 'string', format: 'binary' }) },
        304: { description: 'not modified (If-None-Match matched the ETag)' },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'an API key without the read scope (PERMISSION_DENIED)', schema: errorEnvelopeSchema },
        404: { description: 'no such image of mine (NOT_FOUND)', schema: errorEnvelopeSchema },
        422: { description: 'Invalid input (VALIDATION_ERROR)', schema: errorEnvelopeSchema },
        503: { description: 'media storage is unavailable (SERVICE_UNAVAILABLE)', schema: errorEnvelopeSchema },
      },
    },
    async ({ params }, ctx) => {
      let found: Awaited<ReturnType<typeof readMedia>>;
      try {
        // the owners my scope reaches; platform reviewers anyone's (the images of content under review)
        found = await readMedia({ store, storage }, { ownerIds: accessOf(ctx).ownerIds, anyone: can(ctx, 'platform.reviews.view') }, params.id);
      } catch (error) {
        if (error instanceof MediaStorageError) throw unavailable(error);
        throw error;
      }
      const etag = `"${found.media.sha256}"`;
      ctx.set('ETag', etag);
      ctx.set('Cache-Control', 'private, no-cache');
      ctx.set('X-Content-Type-Options', 'nosniff');
      if (
        ctx
          .get('If-None-Match')
          .split(',')
          .some((tag) => tag.trim() === etag)
      ) {
        ctx.status = 304;
        return;
      }
      ctx.status = 200;
      ctx.type = found.media.contentType;
      ctx.body = found.bytes;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Delete an uploaded image',
      description:
        'Mine, or one my data scope reaches (404 otherwise); its bytes are removed from storage. Articles naming it keep the id: publishing one of them is refused ' +
        'until it names images that exist. A repeat: 404. If-Match takes the revision the upload answered (not the sha256 ETag of GET /media/{id}); ' +
        'a stale one is 412.',
      tags: ['media'],
      auth: true,
      permission: 'publishing.media.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'deleted', schema: z.object({ revision: z.string(), position: z.string().nullable() }) } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      try {
        commandResult(
          ctx,
          await deleteMedia(
            { store, storage, now: clock },
            { userId: user.id, context: commandContext(ctx, user.id), ownerIds: accessOf(ctx).ownerIds },
            params.id,
            expected,
          ),
        );
      } catch (error) {
        if (error instanceof MediaStorageError) {
          ctx.state.logger.error({ err: error, storage: storage.description }, 'media delete: storage failed (deleting again retries)');
          throw unavailable(error);
        }
        throw error;
      }
    },
  );

  return router;
}
