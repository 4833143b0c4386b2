# shardgate node image.
#
# There is no registry to pull a base or builder image from, so nothing is
# compiled inside Docker: the static binary is built on the host first
#
#   CGO_ENABLED=0 go build -trimpath -o build/shardgate ./cmd/node
#
# and this file only wraps it (scripts/compose.sh up does both steps).
# FROM scratch keeps the image to one file: no shell, no libc, no package
# manager to patch. That is also why the health check runs the binary itself.
FROM scratch

COPY build/shardgate /shardgate
# An empty /data owned by nobody: Docker copies it (with its owner) into a
# fresh named volume, so the node can run without root.
COPY --chown=65534:65534 build/rootfs/data/ /data/

# Every listener binds all interfaces inside the container; each node must
# still be given SHARDGATE_ADVERTISE_ADDR (its address as peers and clients
# see it) and, since these listeners are not loopback, an auth secret (or
# SHARDGATE_INSECURE=1), an admin token and a cluster key.
ENV SHARDGATE_DATA_DIR=/data \
    SHARDGATE_GOSSIP_ADDR=0.0.0.0:7946 \
    SHARDGATE_WS_ADDR=0.0.0.0:8080 \
    SHARDGATE_ADMIN_ADDR=0.0.0.0:9090 \
    SHARDGATE_LOG_FORMAT=json

USER 65534:65534
VOLUME /data
EXPOSE 7946/tcp 7946/udp 8080/tcp 9090/tcp

# SIGTERM drains the node (shards handed off, clients told to move) before
# it leaves; give it time with `docker stop -t`.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/shardgate", "healthcheck", "--url", "http://127.0.0.1:9090/readyz"]

ENTRYPOINT ["/shardgate"]
CMD ["run"]
