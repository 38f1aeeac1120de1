#!/usr/bin/env python3
"""Writes Falcon's Grafana dashboards (make dashboards): one JSON file per
dashboard into the Helm chart (helm/falcon/files/dashboards) and the
kustomize component (k8s/components/monitoring/dashboards). deploycheck
checks that both copies are equal, that every query parses and that every
metric a query names is exported by the binaries."""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = [os.path.join(ROOT, "helm/falcon/files/dashboards"), os.path.join(ROOT, "k8s/components/monitoring/dashboards")]


def p99(metric, by="", sel=""):
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile(0.99, sum by ({group}) (rate({metric}_bucket{{{sel}}}[5m])))"


def panel(title, targets, unit="short", stack=False):
    return {"title": title, "unit": unit, "targets": targets, "stack": stack}


def t(expr, legend=""):
    return {"expr": expr, "legend": legend}


def process(job):
    sel = f'job="{job}"'
    return [
        panel("CPU (cores)", [t(f"sum by (pod) (rate(process_cpu_seconds_total{{{sel}}}[5m]))", "{{pod}}")]),
        panel("Resident memory", [t(f"sum by (pod) (process_resident_memory_bytes{{{sel}}})", "{{pod}}")], "bytes"),
        panel("Goroutines", [t(f"sum by (pod) (go_goroutines{{{sel}}})", "{{pod}}")]),
    ]


def api(job, service):
    sel = f'job="{job}", grpc_service="{service}"'
    return [
        panel("Requests by method", [t(f"sum by (grpc_method) (rate(grpc_server_handled_total{{{sel}}}[5m]))", "{{grpc_method}}")], "reqps", True),
        panel("Errors by code", [t(f'sum by (grpc_code) (rate(grpc_server_handled_total{{{sel}, grpc_code!="OK"}}[5m]))', "{{grpc_code}}")], "reqps", True),
        panel("p99 latency by method", [t(p99("grpc_server_handling_seconds", "grpc_method", sel + ', grpc_type="unary"'), "{{grpc_method}}")], "s"),
        panel("Requests refused by the rate limits", [t(f'sum by (class, by) (rate(falcon_rate_limited_requests_total{{job="{job}"}}[5m]))', "{{class}} by {{by}}")], "reqps"),
        panel("Client connections", [t(f'sum by (pod) (falcon_client_connections{{job="{job}"}})', "{{pod}}")]),
    ]


def hbase(job):
    sel = f'job="{job}"'
    return [
        panel("HBase Thrift calls p99 by method", [t(p99("falcon_hbase_client_call_duration_seconds", "op", sel), "{{op}}")], "s"),
        panel("HBase Thrift calls by outcome", [t(f"sum by (outcome) (rate(falcon_hbase_client_calls_total{{{sel}}}[5m]))", "{{outcome}}")], "reqps", True),
    ]


def kafka(job):
    sel = f'job="{job}", broker!=""'
    return [
        panel("Kafka request latency p99 by broker (ms)", [t(f'max by (broker) (sarama_request_latency_in_ms{{{sel}, quantile="0.99"}})', "broker {{broker}}")], "ms"),
        panel("Kafka bytes out and in", [
            t(f"sum(rate(sarama_outgoing_byte_total{{{sel}}}[5m]))", "out"),
            t(f"sum(rate(sarama_incoming_byte_total{{{sel}}}[5m]))", "in")], "Bps"),
    ]


DASHBOARDS = {
    "falcon-overview": ("Falcon: pipeline overview", [
        panel("Commands by code", [t('sum by (grpc_code) (rate(grpc_server_handled_total{job="write-api", grpc_service="falcon.v1.ThreadCommandService"}[5m]))', "{{grpc_code}}")], "reqps", True),
        panel("Queries by code", [t('sum by (grpc_code) (rate(grpc_server_handled_total{job="read-api", grpc_service="falcon.v1.ThreadQueryService"}[5m]))', "{{grpc_code}}")], "reqps", True),
        panel("API p99 latency", [t(p99("grpc_server_handling_seconds", "job", 'job=~"write-api|read-api", grpc_type="unary"'), "{{job}}")], "s"),
        panel("Kafka commit p99 (write-api)", [t(p99("falcon_write_commit_duration_seconds", "", 'job="write-api"'), "commit")], "s"),
        panel("Lag (events)", [
            t('sum(falcon_updater_lag_events{job="read-model-updater"})', "read model"),
            t('sum(falcon_forwarder_lag_events{job="sparrow-forwarder"})', "legacy")]),
        panel("End to end p99", [
            t(p99("falcon_updater_end_to_end_seconds", "", 'job="read-model-updater"'), "to the read model"),
            t(p99("falcon_forwarder_end_to_end_seconds", "", 'job="sparrow-forwarder"'), "to the legacy system")], "s"),
        panel("Events applied and delivered", [
            t('sum(rate(falcon_updater_events_applied_total{job="read-model-updater"}[5m]))', "applied"),
            t('sum(rate(falcon_forwarder_delivered_total{job="sparrow-forwarder"}[5m]))', "delivered")], "ops"),
        panel("Dead letters and breaker", [
            t('sum(increase(falcon_forwarder_dead_lettered_total{job="sparrow-forwarder"}[15m]))', "dead-lettered (15 m)"),
            t('max(falcon_forwarder_breaker_state{job="sparrow-forwarder"})', "breaker (2 = open)")]),
        panel("Partitions owned by write-api", [
            t('max(falcon_write_topic_partitions{job="write-api"})', "partitions"),
            t('sum(falcon_write_owned_partitions{job="write-api"})', "owned")]),
        panel("Stream subscribers", [t('sum(falcon_stream_subscribers{job="read-api"})', "subscribers")]),
    ]),
    "falcon-write-api": ("Falcon: write-api", api("write-api", "falcon.v1.ThreadCommandService") + [
        panel("Partitions owned by replica", [t('sum by (pod) (falcon_write_owned_partitions{job="write-api"})', "{{pod}}")]),
        panel("Kafka transaction p50 / p99", [
            t('histogram_quantile(0.5, sum by (le) (rate(falcon_write_commit_duration_seconds_bucket{job="write-api"}[5m])))', "p50"),
            t(p99("falcon_write_commit_duration_seconds", "", 'job="write-api"'), "p99")], "s"),
        panel("Events per transaction (mean)", [t('sum(rate(falcon_write_commit_events_sum{job="write-api"}[5m])) / sum(rate(falcon_write_commit_events_count{job="write-api"}[5m]))', "events")]),
        panel("Takeovers p99, rebalances, fencing", [
            t(p99("falcon_write_takeover_duration_seconds", "", 'job="write-api"'), "takeover p99 (s)"),
            t('sum(increase(falcon_write_rebalances_total{job="write-api"}[15m]))', "rebalances (15 m)"),
            t('sum(increase(falcon_write_fenced_total{job="write-api"}[15m]))', "fenced (15 m)")]),
        panel("Commands forwarded to the owner", [t('sum by (outcome) (rate(falcon_write_forwarded_commands_total{job="write-api"}[5m]))', "{{outcome}}")], "reqps"),
        panel("Snapshots", [
            t('sum(rate(falcon_write_snapshots_total{job="write-api"}[5m]))', "written"),
            t('sum(increase(falcon_write_snapshot_fallbacks_total{job="write-api"}[1h]))', "takeovers without snapshots (1 h)")]),
        # A partition's writer takes no command while it writes a snapshot.
        panel("Snapshot duration p99 by kind (the partition waits)", [
            t(p99("falcon_write_snapshot_duration_seconds", "kind", 'job="write-api"'), "{{kind}}")], "s"),
    ] + kafka("write-api") + process("write-api")),
    "falcon-read-api": ("Falcon: read-api", api("read-api", "falcon.v1.ThreadQueryService") + hbase("read-api") + [
        panel("Read-model generation", [t('max by (pod) (falcon_read_model_generation{job="read-api"})', "{{pod}}")]),
        panel("Stream subscribers", [t('sum by (pod) (falcon_stream_subscribers{job="read-api"})', "{{pod}}")]),
        panel("Stream events pushed and disconnects", [
            t('sum(rate(falcon_stream_events_pushed_total{job="read-api"}[5m]))', "pushed"),
            t('sum by (reason) (rate(falcon_stream_disconnects_total{job="read-api"}[5m]))', "ended: {{reason}}")], "ops"),
        panel("Stream dispatch delay p99", [t(p99("falcon_stream_dispatch_delay_seconds", "", 'job="read-api"'), "p99")], "s"),
    ] + kafka("read-api") + process("read-api")),
    "falcon-read-model-updater": ("Falcon: read-model-updater", [
        panel("Events applied and skipped", [
            t('sum(rate(falcon_updater_events_applied_total{job="read-model-updater"}[5m]))', "applied"),
            t('sum(rate(falcon_updater_events_skipped_total{job="read-model-updater"}[5m]))', "skipped")], "ops"),
        panel("Lag by partition", [t('sum by (partition) (falcon_updater_lag_events{job="read-model-updater"})', "{{partition}}")]),
        panel("Batch p99", [t(p99("falcon_updater_batch_duration_seconds", "", 'job="read-model-updater"'), "p99")], "s"),
        panel("End to end p50 / p99", [
            t('histogram_quantile(0.5, sum by (le) (rate(falcon_updater_end_to_end_seconds_bucket{job="read-model-updater"}[5m])))', "p50"),
            t(p99("falcon_updater_end_to_end_seconds", "", 'job="read-model-updater"'), "p99")], "s"),
    ] + hbase("read-model-updater") + kafka("read-model-updater") + process("read-model-updater")),
    "falcon-sparrow-forwarder": ("Falcon: sparrow-forwarder", [
        panel("Delivered by event type", [t('sum by (event_type) (rate(falcon_forwarder_delivered_total{job="sparrow-forwarder"}[5m]))', "{{event_type}}")], "ops", True),
        panel("Retries and dead letters", [
            t('sum(rate(falcon_forwarder_retries_total{job="sparrow-forwarder"}[5m]))', "retries"),
            t('sum by (reason) (rate(falcon_forwarder_dead_lettered_total{job="sparrow-forwarder"}[5m]))', "dead-lettered: {{reason}}")], "ops"),
        panel("Circuit breaker (0 closed, 1 half-open, 2 open)", [t('max by (pod) (falcon_forwarder_breaker_state{job="sparrow-forwarder"})', "{{pod}}")]),
        panel("Lag by partition", [t('sum by (partition) (falcon_forwarder_lag_events{job="sparrow-forwarder"})', "{{partition}}")]),
        panel("Outstanding deliveries", [t('sum by (partition) (falcon_forwarder_outstanding_deliveries{job="sparrow-forwarder"})', "{{partition}}")]),
        panel("End to end p50 / p99", [
            t('histogram_quantile(0.5, sum by (le) (rate(falcon_forwarder_end_to_end_seconds_bucket{job="sparrow-forwarder"}[5m])))', "p50"),
            t(p99("falcon_forwarder_end_to_end_seconds", "", 'job="sparrow-forwarder"'), "p99")], "s"),
        panel("Skipped records", [t('sum(rate(falcon_forwarder_skipped_total{job="sparrow-forwarder"}[5m]))', "skipped")], "ops"),
    ] + kafka("sparrow-forwarder") + process("sparrow-forwarder")),
}


def grafana(uid, title, panels):
    out = []
    for i, p in enumerate(panels):
        out.append({
            "id": i + 1,
            "type": "timeseries",
            "title": p["title"],
            "gridPos": {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8},
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": p["unit"], "custom": {"stacking": {"mode": "normal" if p["stack"] else "none"}}}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
            "targets": [{"refId": chr(ord("A") + j), "expr": x["expr"], "legendFormat": x["legend"],
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}} for j, x in enumerate(p["targets"])],
        })
    return {
        "uid": uid,
        "title": title,
        "tags": ["falcon"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]},
        "panels": out,
    }


def main():
    for d in OUT:
        os.makedirs(d, exist_ok=True)
        for uid, (title, panels) in DASHBOARDS.items():
            with open(os.path.join(d, uid + ".json"), "w") as f:
                json.dump(grafana(uid, title, panels), f, indent=2, sort_keys=True)
                f.write("\n")


if __name__ == "__main__":
    main()
