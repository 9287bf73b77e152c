# The one image every LangOpen component runs (control plane with its builder, operator, and each
# data plane's gateway, api-server, worker and runtime): the Helm chart picks the entry point.
#   docker build -t ghcr.io/langopen/langopen:0.1.0 .
# Not built in CI (no container engine there); the chart's tests render and check what runs it.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build

FROM node:20.20.2-bookworm-slim
# git: the builder clones deployments' sources; tini reaps the builder's children and forwards SIGTERM.
RUN apt-get update && apt-get install -y --no-install-recommends git tini ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --gid 10001 langopen && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin langopen
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production HOME=/tmp
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "services/launcher/dist/main.js"]
