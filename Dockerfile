# One image for every platform process (api, projector, worker);
# docker-compose.yml picks the entry point. TypeScript runs through tsx.
FROM node:20-bookworm-slim

# the worker's scrapers drive Debian's chromium (CHROMIUM_PATH), never a downloaded browser
RUN apt-get update \
  && apt-get install -y --no-install-recommends chromium \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production

COPY package.json package-lock.json ./
# postinstall tries the argon2 binding (and rebuilds it if it does not load)
COPY scripts/ensure-argon2.ts ./scripts/
COPY src/adapters/crypto/argon2-binding.ts ./src/adapters/crypto/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY migrations ./migrations
COPY src ./src

# uploaded images on the local disk (MEDIA_STORAGE_URL); docker-compose mounts a volume here, which takes this owner
RUN mkdir -p /var/lib/collector/media && chown node:node /var/lib/collector/media
USER node
EXPOSE 3000
# node itself is PID 1 (not npm), so SIGTERM from `docker stop` reaches the graceful shutdown
CMD ["node", "--import", "tsx", "src/main/api.ts"]
