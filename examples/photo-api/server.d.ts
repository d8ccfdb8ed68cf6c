import type { FastifyInstance } from 'fastify';

export function createPhotoApi(o: { issuer: string; audience: string; jwksUrl?: string }): FastifyInstance;
