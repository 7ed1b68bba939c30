# syntax=docker/dockerfile:1.7
# provenant controller image: multi-stage, Node 22 LTS on Debian slim, non-root.
# Base images are pinned to an exact Node release (the same one package.json pins for
# development). Pin the digest too (`@sha256:…`) when building in a networked release
# pipeline; this repository is developed offline and cannot resolve it.

# --- build: bundle the TypeScript and build the pkcs11js native addon -----------------------
FROM node:22.23.3-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
# Full install (dev deps: typescript) with install scripts, so pkcs11js is compiled here; the
# package's `prepare` script bundles src/ into dist/ (scripts/build.mjs; hence the sources first).
RUN npm ci --no-audit --no-fund \
 && test -f dist/cli/main.js \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime --------------------------------------------------------------------------------
FROM node:22.23.3-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
# Compiled JavaScript only (no src/, no tsx): the bin runs dist/. Its V8 compile cache is written
# here at build time (the bundle, and the packages the bundle keeps external that the controller
# loads: BullMQ and ioredis; @kubernetes/client-node only serves exec/auth-provider kubeconfigs,
# docs/kubernetes-client.md), so a (read-only) container starts without parsing and compiling the code again.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
# `verify --help` and `provenance --help` load those commands' chunks (what `verify --image --key` runs).
RUN node /app/bin/provenant.mjs --help >/dev/null \
 && node /app/bin/provenant.mjs controller --help >/dev/null \
 && node /app/bin/provenant.mjs verify --help >/dev/null \
 && node /app/bin/provenant.mjs provenance --help >/dev/null \
 && cd /app && node --input-type=module -e "for (const p of ['bullmq', 'ioredis']) await import(p)"
# 65532 = "nonroot" in distroless conventions; the Deployment runs with the same uid.
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["node", "/app/bin/provenant.mjs", "controller"]
