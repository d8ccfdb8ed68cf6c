# syntax=docker/dockerfile:1

# --- build: compile TypeScript to dist/ ---
# Node 24: the maintained LTS line (Node 20 left maintenance in April 2026). The code itself needs
# only 20.19+ (package.json engines), which is what CI runs.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and compiled code only, as a non-root user ---
FROM node:24-bookworm-slim AS runtime
# MALLOC_ARENA_MAX=1: glibc would otherwise keep a 19 MiB argon2 buffer in an arena per libuv
# thread that ever hashed a password (bench/README.md: 50-60 MB less peak RSS under logins).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    SIGIL_DATA_DIR=/var/lib/sigil
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY migrations ./migrations
RUN mkdir -p /var/lib/sigil && chown node:node /var/lib/sigil
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# bin/sigil.js runs dist/ when the image has no src/. The V8 flags keep the heap small under load
# (docs/benchmarks.md, "Memory"): the young generation at 4 MiB per semi-space instead of growing to 16, and
# the old generation grown by half its live size after a full collection instead of up to 4 times.
# On the command line: NODE_OPTIONS refuses --heap-growing-percent.
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "bin/sigil.js", "serve"]
