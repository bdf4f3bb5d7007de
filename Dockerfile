# syntax=docker/dockerfile:1
# NetSpectra: one image for every component (analyze, serve, probe, engine, api, ai, query, ask).
# The container's arguments are a `netspectra` command and its flags, e.g.
#   docker run --rm IMAGE engine --help
#   docker run --rm -v "$PWD:/data" IMAGE analyze /data/capture.pcap --no-store
# node is PID 1 (no npm or npx in front: npx does not pass SIGTERM on), so `docker stop` reaches
# the process, which writes its final snapshot and exits.
#
# Builds anywhere the npm registry is reachable. Where it is reached through a private
# configuration, pass it as build secrets, mounted for the `npm ci` steps only and never stored in a
# layer:  --secret id=npmrc,src=$HOME/.npmrc --secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build: compile TypeScript and the dashboard
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; no dependency needs an install script
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    NODE_EXTRA_CA_CERTS=/run/secrets/cacert npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json eslint.config.js ./
COPY src ./src
COPY web ./web
COPY test ./test
COPY bench ./bench
RUN npm run build

# ---------------------------------------------------------------- production dependencies only
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    NODE_EXTRA_CA_CERTS=/run/secrets/cacert npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && rm -rf /root/.npm
# what only a compiler or a reader needs: type declarations, source maps, the TypeScript sources
# some packages ship beside their JavaScript, and their documents
RUN find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
        -o -name '*.md' -o -name '*.markdown' -o -name '*.tsbuildinfo' \) -delete \
    && rm -rf node_modules/openai/src

# ---------------------------------------------------------------- the runtime's system
FROM ${NODE_IMAGE} AS system
# tcpdump for the probe's live capture (the probe alone is given NET_RAW and NET_ADMIN). npm,
# corepack and apt's caches go: nothing runs through them here, and the image is pulled per node.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tcpdump \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
              /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn* /usr/local/include /usr/local/share/doc \
    && groupadd --system --gid 10001 netspectra \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/netspectra --shell /usr/sbin/nologin netspectra \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/netspectra

# ---------------------------------------------------------------- runtime: one flattened system layer (what
# the system stage deleted is gone, not hidden under a whiteout), then the application
FROM scratch AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="NetSpectra" \
      org.opencontainers.image.description="Network traffic monitoring: exact per-flow accounting, heavy hitters and super-spreaders from live interfaces or capture files; probes, engines, query API and dashboard." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=system / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/web/dist ./web/dist
COPY configs ./configs
COPY deploy/image/healthcheck.mjs ./healthcheck.mjs
USER 10001:10001
# the embedded store, the ClickHouse spool and other data go here (a volume in production)
WORKDIR /var/lib/netspectra
VOLUME ["/var/lib/netspectra"]
# 8080 HTTP API and dashboard (api, serve), 50051 Thrift QueryService, 50052 AI service, 9464 metrics (engine, serve)
EXPOSE 8080 50051 50052 9464
# /healthz of whichever endpoint the component serves (engine, serve: metrics port; api: HTTP port);
# a component without one (probe, analyze) is healthy while it runs.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "/app/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
