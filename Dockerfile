# certkeeper container image: `certkeeper run` as a non-root user, state on a volume, nothing
# written outside /var/lib/certkeeper and /tmp (runs with a read-only root filesystem).
#
#   docker build -t certkeeper:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v certkeeper-state:/var/lib/certkeeper \
#     -v "$PWD/certkeeper.yaml:/etc/certkeeper/certkeeper.yaml:ro" certkeeper:0.1.0
#
# No credentials are baked in: TSIG secrets, AWS keys and webhook URLs come from the config's
# ${ENV} references and *File twins, mounted at run time (Kubernetes Secrets in the Helm chart).

# Node 24 (the current LTS) on Debian 13 "trixie", the current Debian release; Node 22 works too:
#   docker build --build-arg NODE_VERSION=22 -t certkeeper:0.1.0-node22 .
ARG NODE_VERSION=24
ARG DEBIAN=trixie

# ---- build: all dependencies, compile TypeScript to dist/ ----
FROM node:${NODE_VERSION}-${DEBIAN}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# npm run build: tsc, then dist/certkeeper.schema.json (the config's JSON Schema, for editors).
RUN npm run build

# ---- production dependencies, pruned (packaging/prune-production.sh says what goes and why) ----
FROM node:${NODE_VERSION}-${DEBIAN}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packaging ./packaging
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && sh packaging/prune-production.sh /app

# ---- runtime: node, tini, dist/ and the pruned node_modules; no npm, npx, corepack or yarn ----
FROM node:${NODE_VERSION}-${DEBIAN}-slim AS runtime
LABEL org.opencontainers.image.title="certkeeper" \
      org.opencontainers.image.description="Declarative TLS certificate renewal agent (ACME DNS-01)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/certkeeper/certkeeper"
# tini as PID 1 reaps the reload hooks' children and forwards SIGTERM/SIGHUP to node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* /root/.npm /tmp/*
ENV NODE_ENV=production \
    CERTKEEPER_CONFIG=/etc/certkeeper/certkeeper.yaml
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# A fixed numeric uid/gid, so Kubernetes can verify runAsNonRoot; the state dir is theirs.
RUN groupadd --system --gid 10001 certkeeper \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/certkeeper --shell /usr/sbin/nologin certkeeper \
 && mkdir -p /var/lib/certkeeper /etc/certkeeper \
 && chown 10001:10001 /var/lib/certkeeper \
 && chmod 0700 /var/lib/certkeeper
USER 10001:10001
VOLUME ["/var/lib/certkeeper"]
# The metrics, health and status endpoint, when the config has `http: { listen: "0.0.0.0:9107" }`.
EXPOSE 9107
# `certkeeper healthcheck` asks /healthz at the config's http.listen; with no endpoint configured
# it passes (there is nothing to ask), so the check never marks an agent unhealthy for that.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "/app/dist/cli/main.js", "healthcheck"]
STOPSIGNAL SIGTERM
# A small young generation: Node 22 and 24 grow it to 32 MB semi-spaces while a large config loads
# and never give the room back while idle. With 4 MB the daemon over 10,000 certificates idles at
# 114 MB on Node 22 and 139 MB on Node 24 instead of 160 and 198 MB, at the same speed (bench/fleet.sh).
# A flag, not NODE_OPTIONS, so hooks that run Node themselves are not affected.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=4", "/app/dist/cli/main.js"]
CMD ["run"]
