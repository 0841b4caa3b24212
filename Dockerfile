# webrtc-hls: NestJS + mediasoup 3.12 + FFmpeg on Debian bookworm (Node 20).
#   docker compose up --build          (see docker-compose.yml for ports, volume, health check)
# Both stages install through scripts/setup.sh, the script a developer runs, so the image and a dev
# machine cannot drift: the build stage with --no-browser (Debian build packages, npm ci
# --ignore-scripts, the mediasoup worker built offline from node_modules' sources against Debian's
# libraries), the final stage with --runtime-only (the same runtime package list, nothing else).
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.

FROM node:20-bookworm AS build
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock file or the setup scripts change.
COPY package.json package-lock.json ./
COPY scripts/setup.sh scripts/build-mediasoup-worker.sh scripts/
# The worker takes ~6 minutes to compile on 2 cores; setup.sh caches it by mediasoup version in
# ~/.cache/webrtc-hls, kept here across image builds.
RUN --mount=type=cache,target=/root/.cache/webrtc-hls \
    --mount=type=cache,target=/root/.npm \
    bash scripts/setup.sh --no-browser
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
COPY scripts/setup.sh scripts/
RUN bash scripts/setup.sh --runtime-only && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/public/app public/app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    HLS_DIR=/var/lib/webrtc-hls/live
RUN mkdir -p "$HLS_DIR" && chown -R node:node "$HLS_DIR"
VOLUME /var/lib/webrtc-hls/live
USER node
# HTTP (pages, socket.io signaling, /live, /health); WebRtcServers: UDP and TCP ports 20000 … 20000 +
# 4 × workers − 1 (MEDIASOUP_WORKERS workers, default one per core; WEBRTC_SERVERS_PER_WORKER=4, each its
# own socket): publish all of them. Two workers, as in docker-compose.yml: 20000-20007.
EXPOSE 4000/tcp 20000-20007/udp 20000-20007/tcp
# Readiness: workers alive, FFmpeg runnable, HLS directory writable with room. (No curl in -slim.)
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM: readiness fails for SHUTDOWN_GRACE_MS, then FFmpeg, peers and workers stop; main.ts
# exits by itself, so this works as PID 1 too.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
