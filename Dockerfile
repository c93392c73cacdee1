# Image of the bundled engine (zkserver), used by `zkctl generate kubernetes --engine bundled`.
#   docker build -t zkctl/zkserver:0.1.0 .
# Build stage: the Swift toolchain compiles a release zkserver with the Swift runtime linked in.
ARG SWIFT_IMAGE=swift:6.3-noble
FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product zkserver --static-swift-stdlib \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/zkserver" /out/zkserver

# Runtime stage: a plain Ubuntu base (bash and coreutils for the probe scripts), no toolchain.
FROM ubuntu:24.04
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && (userdel -r ubuntu 2>/dev/null || true) \
 && groupadd --system --gid 1000 zookeeper \
 && useradd --system --uid 1000 --gid 1000 --home-dir /data --shell /usr/sbin/nologin zookeeper \
 && install -d -o 1000 -g 1000 -m 0750 /data /datalog /conf /logs
COPY --from=build /out/zkserver /usr/local/bin/zkserver
USER 1000:1000
EXPOSE 2181 2888 3888
VOLUME ["/data", "/datalog"]
ENTRYPOINT []
CMD ["zkserver", "/conf/zoo.cfg"]
