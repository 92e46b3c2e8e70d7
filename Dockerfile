# NowConnect premise agent image.
#   docker build -t nowconnect-premise:1.0.0 .
#   docker run -d --restart=always --network host -v $PWD/secrets/agent.token:/secrets/token:ro \
#       --env-file nowconnect.env nowconnect-premise:1.0.0
# The same image runs the hub: docker run ... nowconnect-premise:1.0.0 hub

# ---- build: the distribution archive, exactly as `mvn -B package` makes it ----
FROM maven:3-eclipse-temurin-21 AS build
WORKDIR /src
COPY pom.xml .
# Dependencies first, so source edits reuse this layer.
RUN mvn -B -q dependency:go-offline || true
COPY . .
RUN mvn -B -DskipTests package \
 && mkdir -p /dist \
 && tar -xzf target/nowconnect-*.tar.gz -C /dist --strip-components=1

# ---- runtime: JRE 21 and the unpacked bin/, lib/, etc/ only ----
FROM eclipse-temurin:21-jre
RUN groupadd --system --gid 10001 nowconnect \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /opt/nowconnect \
        --shell /usr/sbin/nologin nowconnect
COPY --from=build /dist/bin /opt/nowconnect/bin
COPY --from=build /dist/lib /opt/nowconnect/lib
COPY --from=build /dist/etc /opt/nowconnect/etc
WORKDIR /opt/nowconnect
# the launcher's class data sharing archive (a faster start after the first): /tmp is writable here and in the
# Kubernetes manifests (an emptyDir under a read-only root file system)
ENV NC_CDS_DIR=/tmp/nowconnect-cds
USER 10001:10001
EXPOSE 8090
# TCP health port (NC_HEALTH_PORT, 8090): one line, "OK" while connecting, "READY" once the hub acknowledged
# the tunnel. Healthy = READY; the JRE image has bash, whose /dev/tcp needs no extra tool.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${NC_HEALTH_PORT:-8090} && read -t 3 line <&3 && [ \"${line%$'\\r'}\" = READY ]"]
# SIGTERM starts the agent's drain (NC_DRAIN_TIMEOUT_SEC, 30 s): use `docker stop -t 45`
# (compose: stop_grace_period: 45s) so it can finish.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/nowconnect/bin/nowconnect"]
CMD ["agent"]
