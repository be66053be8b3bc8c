"""Ships logs to `sluice-ingest serve` with clients nobody here wrote.

usage: ship_with_clients.py URL TOKEN N

- the official Elasticsearch client's `helpers.bulk`: N documents to /_bulk;
- the OpenTelemetry Python SDK, through its OTLP/HTTP (protobuf) log exporter:
  N records via the standard `logging` bridge.

Prints one `ok …` line per client; exits non-zero on any failure. The Rust
test (`tests/e2e/serve.rs`) then counts what is searchable.
"""

import logging
import sys


def elasticsearch_bulk(url, token, n):
    from elasticsearch import Elasticsearch, helpers

    client = Elasticsearch(url, api_key=token, request_timeout=30)
    info = client.info()
    assert info["tagline"] == "You Know, for Search", info
    actions = (
        {
            "_index": "shop",
            "_source": {
                "@timestamp": f"2024-03-02T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "log.level": "warn" if i % 10 == 0 else "info",
                "message": f"es client document {i}",
                "service.name": "es-client",
                "order_id": i,
            },
        }
        for i in range(n)
    )
    succeeded, errors = helpers.bulk(client, actions, chunk_size=250)
    assert succeeded == n and not errors, (succeeded, errors)
    print(f"ok elasticsearch helpers.bulk {succeeded}")


def opentelemetry_logs(url, token, n):
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "otel-client", "host.name": "otel-host"}))
    set_logger_provider(provider)
    exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs", headers={"Authorization": f"Bearer {token}"})
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_export_batch_size=100))
    logger = logging.getLogger("sluice.interop")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
    for i in range(n):
        if i % 10 == 0:
            logger.error("otel record %d", i, extra={"order_id": i})
        else:
            logger.info("otel record %d", i, extra={"order_id": i})
    assert provider.force_flush(30_000), "the OTLP exporter did not flush"
    provider.shutdown()
    print(f"ok opentelemetry otlp/http {n}")


def main():
    url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    elasticsearch_bulk(url, token, n)
    opentelemetry_logs(url, token, n)


if __name__ == "__main__":
    main()
