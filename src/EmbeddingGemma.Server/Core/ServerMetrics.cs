using Prometheus;

namespace EmbeddingGemma.Server.Core;

/// <summary>Prometheus metrics of one server instance (own registry, so several servers can live in one process).</summary>
public sealed class ServerMetrics
{
    private static readonly double[] DurationBuckets = Histogram.ExponentialBuckets(0.0001, 2, 20); // 0.1 ms .. 52 s

    public ServerMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        Requests = f.CreateCounter("embeddinggemma_requests_total", "HTTP requests by endpoint and status code.",
            new CounterConfiguration { LabelNames = ["endpoint", "status"] });
        RequestDuration = f.CreateHistogram("embeddinggemma_request_duration_seconds", "Total request time by endpoint.",
            new HistogramConfiguration { LabelNames = ["endpoint"], Buckets = DurationBuckets });
        StageDuration = f.CreateHistogram("embeddinggemma_stage_duration_seconds",
            "Per-request time by stage: tokenize, queue (waiting for a batch), inference (the batch's forward pass).",
            new HistogramConfiguration { LabelNames = ["stage"], Buckets = DurationBuckets });
        QueueDepth = f.CreateGauge("embeddinggemma_queue_depth", "Inputs admitted and not yet finished (waiting or running).");
        BatchSize = f.CreateHistogram("embeddinggemma_batch_size", "Sequences per batch.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 11) });
        BatchTokens = f.CreateHistogram("embeddinggemma_batch_tokens", "Tokens per batch.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(8, 2, 14) });
        Tokens = f.CreateCounter("embeddinggemma_tokens_total", "Tokens embedded.");
        Inputs = f.CreateCounter("embeddinggemma_inputs_total", "Inputs embedded.");
        Truncated = f.CreateCounter("embeddinggemma_truncated_inputs_total", "Inputs truncated to the maximum sequence length.");
        Dropped = f.CreateCounter("embeddinggemma_dropped_inputs_total", "Queued inputs dropped because their client went away.");
        Rejected = f.CreateCounter("embeddinggemma_rejected_requests_total", "Requests refused by reason.",
            new CounterConfiguration { LabelNames = ["reason"] });
        InFlightBodyBytes = f.CreateGauge("embeddinggemma_inflight_body_bytes", "Request-body bytes admitted and not yet answered (bounded by MaxInFlightBytes).");
        InFlightBodyBytesPeak = f.CreateGauge("embeddinggemma_inflight_body_bytes_peak", "The most request-body bytes in flight at once since start.");
        ModelLoaded = f.CreateGauge("embeddinggemma_model_loaded", "1 when the model is loaded and serving.");
    }

    public CollectorRegistry Registry { get; }
    public Counter Requests { get; }
    public Histogram RequestDuration { get; }
    public Histogram StageDuration { get; }
    public Gauge QueueDepth { get; }
    public Histogram BatchSize { get; }
    public Histogram BatchTokens { get; }
    public Counter Tokens { get; }
    public Counter Inputs { get; }
    public Counter Truncated { get; }
    public Counter Dropped { get; }
    public Counter Rejected { get; }
    public Gauge ModelLoaded { get; }
    public Gauge InFlightBodyBytes { get; }
    public Gauge InFlightBodyBytesPeak { get; }
}
