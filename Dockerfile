# syntax=docker/dockerfile:1
# shopwatch and the demo shop in one image (docker-compose.yml runs both from it). No browser
# here: journeys run in the browser of a WebDriver endpoint, e.g. a Selenium container.
#
#   docker build -t shopwatch .
#   docker run -v "$PWD/my-shopwatch.yaml:/etc/shopwatch/shopwatch.yaml:ro" -p 9464:9464 shopwatch

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The git commit for shopwatch_build_info (.git is not in the build context):
#   docker build --build-arg SHOPWATCH_REVISION=$(git rev-parse --short=12 HEAD) .
ARG SHOPWATCH_REVISION=unknown
ENV SHOPWATCH_REVISION=${SHOPWATCH_REVISION}
# The cache mounts keep the crates.io downloads and compiled dependencies between builds (BuildKit,
# the default builder of Docker and Compose); the binaries are copied out of the cached target/.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p shopwatch -p demo-shop \
    && mkdir -p /out \
    && cp target/release/shopwatch target/release/demo-shop /out/

FROM debian:bookworm-slim
# ca-certificates: the system roots for https probes and journeys; it brings openssl, which
# docker/demo-shop-tls.sh uses to make the demo shop's certificate.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 shopwatch \
    && useradd --system --uid 10001 --gid shopwatch --home-dir /var/lib/shopwatch \
        --shell /usr/sbin/nologin shopwatch \
    && mkdir -p /etc/shopwatch /var/lib/shopwatch/artifacts /var/lib/shopwatch/state /var/lib/demo-shop/tls \
    && chown -R shopwatch:shopwatch /var/lib/shopwatch /var/lib/demo-shop
COPY --from=build /out/shopwatch /out/demo-shop /usr/local/bin/
USER shopwatch:shopwatch
WORKDIR /var/lib/shopwatch
EXPOSE 9464
# /-/healthy of the metrics listener (liveness: cheap, asks no WebDriver), with bash's /dev/tcp (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /-/healthy HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["shopwatch"]
CMD ["run", "--config", "/etc/shopwatch/shopwatch.yaml"]
