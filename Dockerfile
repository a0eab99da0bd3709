# syntax=docker/dockerfile:1
# AI Hub: one image, every role. `docker build -t aihub .` then `docker run -p 8080:8080 aihub`.
# Statically checked by server/test/deploy/dockerfile.test.ts (no image is built in CI); see docs/operations.md.

# --- 1. production dependencies only (no compiler, no dev tools) ---------------------------------------------------
FROM node:24-alpine AS deps
WORKDIR /app
# npm ci needs every workspace's package.json to match the lock file.
COPY package.json package-lock.json ./
COPY server/package.json server/
COPY mock-upstream/package.json mock-upstream/
COPY web/package.json web/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- 2. runtime: Node runs the TypeScript sources directly (type stripping), so there is no build step ------------
FROM node:24-alpine AS runtime
ENV NODE_ENV=production \
    AIHUB_HOST=0.0.0.0 \
    AIHUB_PORT=8080 \
    AIHUB_DATA_DIR=/var/lib/aihub
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY server/package.json server/
COPY server/bin server/bin
COPY server/src server/src
# The built-in demo provider (first run without a provider key) serves the mock upstream in-process.
COPY mock-upstream/package.json mock-upstream/
COPY mock-upstream/src mock-upstream/src
RUN mkdir -p /var/lib/aihub && chown node:node /var/lib/aihub
# The official image's unprivileged user (uid 1000).
USER node
VOLUME ["/var/lib/aihub"]
EXPOSE 8080
# Readiness, not liveness: it turns unhealthy while the instance drains on SIGTERM.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.AIHUB_PORT || 8080) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=8", "server/bin/aihub.ts"]
CMD ["serve"]
