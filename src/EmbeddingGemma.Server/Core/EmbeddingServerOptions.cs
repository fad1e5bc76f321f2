namespace EmbeddingGemma.Server.Core;

/// <summary>
/// Server settings. Bound from the "EmbeddingGemma" configuration section (appsettings.json, environment variables
/// such as EmbeddingGemma__ApiKey, command-line flags of `embeddinggemma serve`).
/// </summary>
public sealed class EmbeddingServerOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "EmbeddingGemma";

    /// <summary>Model folder, GGUF file or Hugging Face id (used by the default model loader).</summary>
    public string? Model { get; set; }

    /// <summary>
    /// Compute threads of the model's forward pass (the default loader's <c>ModelLoadOptions.Threads</c>; 0 = all cores,
    /// reported resolved in /info). 0..1024.
    /// </summary>
    public int Threads { get; set; }

    /// <summary>
    /// A semantic search index (SQLite file made by <c>embeddinggemma index</c>). When set, the index is opened read-only
    /// at startup and <c>POST /search</c> answers queries embedded with the served model. Null: /search answers 404.
    /// </summary>
    public string? SearchDatabase { get; set; }

    /// <summary>The model name reported in responses (null = the backend's name).</summary>
    public string? ServedModelName { get; set; }

    /// <summary>When set, every endpoint except /health and /metrics requires "Authorization: Bearer &lt;key&gt;".</summary>
    public string? ApiKey { get; set; }

    /// <summary>Origins allowed by CORS ("*" = any). Empty = no CORS headers (same-origin only).</summary>
    public IList<string> CorsOrigins { get; } = new List<string>();

    /// <summary>Token budget of one batch (sum of sequence lengths) across concurrent requests.</summary>
    public int MaxBatchTokens { get; set; } = 16384;

    /// <summary>Most sequences in one batch.</summary>
    public int MaxBatchRequests { get; set; } = 256;

    /// <summary>Most inputs waiting or running at once (each input of a request counts). Beyond: 429 + Retry-After.</summary>
    public int MaxQueuedInputs { get; set; } = 1024;

    /// <summary>Most inputs in one request.</summary>
    public int MaxInputsPerRequest { get; set; } = 256;

    /// <summary>Most characters in one input, checked before tokenizing (cheap guard against huge strings).</summary>
    public int MaxInputCharacters { get; set; } = 131072;

    /// <summary>Most bytes in a request body (413 beyond).</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Default of <see cref="MaxInFlightBytes"/>: 32 MiB, eight maximum-size (4 MiB) bodies. The finding behind it measured
    /// about 46 MB of peak memory per 3.9 MB body in flight (body, JSON document, UTF-16 strings, tokenizer work), so
    /// 32 MiB keeps request memory near 370 MB, under a 512 MB total with the process's baseline.
    /// </summary>
    public const long DefaultMaxInFlightBytes = 32L * 1024 * 1024;

    /// <summary>
    /// Most request-body bytes in flight at once, over all requests (admitted from Content-Length before the body is
    /// read, counted as they arrive for chunked bodies, released when the response is complete); beyond: 503 +
    /// Retry-After, before anything is parsed. Bounds the request memory of the server (its peak is a small multiple of
    /// this: body, JSON document, strings, token ids). At least <see cref="MaxRequestBodyBytes"/>.
    /// </summary>
    public long MaxInFlightBytes { get; set; } = DefaultMaxInFlightBytes;

    /// <summary>Truncate over-long inputs by default (true) or refuse them with their token count (false).</summary>
    public bool Truncate { get; set; } = true;

    /// <summary>Prompt name applied when a request names none (null = no prompt, like sentence-transformers).</summary>
    public string? DefaultPromptName { get; set; }

    /// <summary>Seconds announced in Retry-After on 429 and on 503 while loading.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Default of <see cref="DrainTimeoutSeconds"/>.</summary>
    public const int DefaultDrainTimeoutSeconds = 30;

    /// <summary>Largest <see cref="DrainTimeoutSeconds"/>.</summary>
    public const int MaxDrainTimeoutSeconds = 3600;

    /// <summary>
    /// On shutdown (SIGTERM, Ctrl+C, StopApplication): seconds the host waits for the requests already accepted to be
    /// answered (the host's ShutdownTimeout); new requests get 503 meanwhile. 0..3600.
    /// </summary>
    public int DrainTimeoutSeconds { get; set; } = DefaultDrainTimeoutSeconds;

    /// <summary>Whether /metrics needs the API key too (default: public, like TEI).</summary>
    public bool ProtectMetrics { get; set; }

    /// <summary>Checks the settings; throws <see cref="EmbeddingGemmaException"/> naming the bad field.</summary>
    public void Validate()
    {
        static void Positive(long v, string name)
        {
            if (v <= 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Server setting {name} must be positive (got {v}).");
            }
        }
        Positive(MaxBatchTokens, nameof(MaxBatchTokens));
        Positive(MaxBatchRequests, nameof(MaxBatchRequests));
        Positive(MaxQueuedInputs, nameof(MaxQueuedInputs));
        Positive(MaxInputsPerRequest, nameof(MaxInputsPerRequest));
        Positive(MaxInputCharacters, nameof(MaxInputCharacters));
        Positive(MaxRequestBodyBytes, nameof(MaxRequestBodyBytes));
        Positive(RetryAfterSeconds, nameof(RetryAfterSeconds));
        Positive(MaxInFlightBytes, nameof(MaxInFlightBytes));
        if (MaxInFlightBytes < MaxRequestBodyBytes)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Server setting MaxInFlightBytes ({MaxInFlightBytes}) must be at least MaxRequestBodyBytes ({MaxRequestBodyBytes}): a maximum-size request could never be admitted.");
        }
        if (DrainTimeoutSeconds is < 0 or > MaxDrainTimeoutSeconds)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Server setting DrainTimeoutSeconds must be between 0 and {MaxDrainTimeoutSeconds} (got {DrainTimeoutSeconds}).");
        }
        if (Threads is < 0 or > 1024)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Server setting Threads must be between 0 (all cores) and 1024 (got {Threads}).");
        }
        if (MaxInputsPerRequest > MaxQueuedInputs)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Server setting MaxInputsPerRequest ({MaxInputsPerRequest}) must not exceed MaxQueuedInputs ({MaxQueuedInputs}): such a request could never be admitted.");
        }
    }
}
