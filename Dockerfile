# One image per program (docs/deploy.md says why), from one file:
#   docker build --build-arg SERVICE=write-api -t falcon/write-api .
# SERVICE is write-api, read-api, read-model-updater, sparrow-forwarder or falcon.
# The build is static (CGO_ENABLED=0) and the runtime is distroless, non-root,
# with no shell: configuration comes from FALCON_* environment variables.
FROM golang:1.27.3 AS build
# The project's toolchain (go.work); the image has it, nothing is fetched.
ENV GOTOOLCHAIN=go1.27.3
ARG SERVICE=write-api
WORKDIR /src
COPY go.work go.work.sum ./
COPY proto/go.mod proto/go.sum proto/
COPY libs/go.mod libs/go.sum libs/
COPY services/write-api/go.mod services/write-api/go.sum services/write-api/
COPY services/read-api/go.mod services/read-api/go.sum services/read-api/
COPY services/read-model-updater/go.mod services/read-model-updater/go.sum services/read-model-updater/
COPY services/sparrow-forwarder/go.mod services/sparrow-forwarder/go.sum services/sparrow-forwarder/
COPY services/falcon/go.mod services/falcon/go.sum services/falcon/
COPY loadtest/go.mod loadtest/go.sum loadtest/
COPY deploycheck/go.mod deploycheck/go.sum deploycheck/
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/service ./services/${SERVICE}

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/service /service
USER 65532:65532
ENTRYPOINT ["/service"]
