using System.Diagnostics;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Server.Engine;

namespace EmbeddingGemma.Server.Core;

/// <summary>One input of a request: a text (with an optional document title) or token ids used as given.</summary>
public sealed record EmbedInput(string? Text, IReadOnlyList<int>? TokenIds = null, string? Title = null)
{
    public static EmbedInput FromText(string text, string? title = null) => new(text, null, title);
    public static EmbedInput FromTokens(IReadOnlyList<int> ids) => new(null, ids);
}

/// <summary>A request as the core sees it, whatever HTTP contract it came through.</summary>
public sealed record EmbedRequest
{
    public required IReadOnlyList<EmbedInput> Inputs { get; init; }
    public string? PromptName { get; init; }
    public string? Prompt { get; init; }
    public int? Dimensions { get; init; }
    public bool Normalize { get; init; } = true;
    /// <summary>Null = the server default.</summary>
    public bool? Truncate { get; init; }
    /// <summary>Field names for error messages (they differ per contract).</summary>
    public string InputField { get; init; } = "input";
    public string PromptField { get; init; } = "prompt_name";
    /// <summary>Output precision of the response (the <c>precision</c> extension); the vectors are computed in float32 either way.</summary>
    public EmbeddingGemma.Embeddings.Precision.EmbeddingPrecision Precision { get; init; }
    /// <summary>int8/uint8 calibration ranges sent with the request (<c>ranges</c>); null = from the request's own embeddings.</summary>
    public EmbeddingGemma.Embeddings.Precision.QuantizationRanges? Ranges { get; init; }
}

/// <summary>Per-stage timings of one request (queue and inference: the slowest of its inputs).</summary>
public readonly record struct StageTimings(TimeSpan Tokenize, TimeSpan Queue, TimeSpan Inference, TimeSpan Total);

/// <summary>The vectors (in input order), token counts, truncation flags and timings.</summary>
public sealed record EmbedResult(
    IReadOnlyList<float[]> Vectors,
    IReadOnlyList<int> TokenCounts,
    IReadOnlyList<bool> Truncated,
    int Dimensions,
    bool Normalized,
    string Model,
    StageTimings Timings)
{
    public int TotalTokens => TokenCounts.Sum();
}

/// <summary>The tokenized inputs of a /tokenize request (the library's <see cref="TokenizedInput"/>, with the count before truncation).</summary>
public sealed record TokenizeResult(IReadOnlyList<TokenizedInput> Inputs, string Model);

/// <summary>
/// The core of the service: validates a request against the limits, turns it into one <see cref="EncodeOptions"/>,
/// tokenizes each input once (<see cref="TokenizedInput"/>, keeping the count before truncation), queues the inputs for
/// dynamic batching, then post-processes each raw vector with the request's options (Matryoshka, normalisation).
/// </summary>
public sealed class EmbeddingService
{
    private readonly ModelHost _host;

    public EmbeddingService(ModelHost host) => _host = host;

    private EmbeddingServerOptions Options => _host.Options;

    /// <summary>The name reported in responses.</summary>
    public string ModelName(IEmbeddingBackend backend) => Options.ServedModelName ?? backend.Info.ModelName;

    public async Task<EmbedResult> EmbedAsync(EmbedRequest request, CancellationToken cancellationToken)
    {
        long t0 = Stopwatch.GetTimestamp();
        using var lease = _host.BeginRequest();
        var backend = lease.Backend;
        var info = backend.Info;
        var metrics = _host.Metrics;

        if (request.Dimensions is { } d && (d < 1 || d > info.Dimension))
        {
            throw new ApiException(ApiErrorType.Validation,
                $"`dimensions` must be between 1 and {info.Dimension} (Matryoshka sizes {string.Join(", ", info.MatryoshkaDimensions)}); got {d}.", "dimensions");
        }
        var (tokenized, options) = TokenizeAll(request, backend);
        long t1 = Stopwatch.GetTimestamp();

        var tasks = lease.Scheduler.Enqueue(tokenized, cancellationToken);
        BatchResult[] results;
        try
        {
            results = await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiException(ApiErrorType.Unavailable, "The request was cancelled by the server.");
        }

        var vectors = new float[results.Length][];
        TimeSpan queue = TimeSpan.Zero, inference = TimeSpan.Zero;
        for (int i = 0; i < results.Length; i++)
        {
            var v = backend.PostProcess(results[i].Raw, options);
            foreach (float x in v)
            {
                if (!float.IsFinite(x))
                {
                    throw new ApiException(ApiErrorType.Internal, $"The model produced a non-finite value for input {i}; refusing to return it.");
                }
            }
            vectors[i] = v;
            queue = results[i].Queue > queue ? results[i].Queue : queue;
            inference = results[i].Inference > inference ? results[i].Inference : inference;
        }
        long t2 = Stopwatch.GetTimestamp();
        var tokenize = Stopwatch.GetElapsedTime(t0, t1);
        metrics.StageDuration.WithLabels("tokenize").Observe(tokenize.TotalSeconds);
        metrics.StageDuration.WithLabels("queue").Observe(queue.TotalSeconds);
        metrics.StageDuration.WithLabels("inference").Observe(inference.TotalSeconds);
        int truncated = tokenized.Count(t => t.Truncated);
        if (truncated > 0)
        {
            metrics.Truncated.Inc(truncated);
        }
        return new EmbedResult(vectors,
            tokenized.Select(t => t.Ids.Length).ToArray(),
            tokenized.Select(t => t.Truncated).ToArray(),
            request.Dimensions ?? info.Dimension,
            request.Normalize,
            ModelName(backend),
            new StageTimings(tokenize, queue, inference, Stopwatch.GetElapsedTime(t0, t2)));
    }

    /// <summary>Tokenizes (with prompts, specials, truncation) without embedding.</summary>
    public TokenizeResult Tokenize(EmbedRequest request)
    {
        using var lease = _host.BeginRequest();
        return new TokenizeResult(TokenizeAll(request, lease.Backend).Inputs, ModelName(lease.Backend));
    }

    /// <summary>
    /// Checks the request, builds its one <see cref="EncodeOptions"/> and tokenizes every input once: texts through the
    /// engine (prompt, specials, truncation to the maximum length, count before truncation), token ids as given (checked
    /// here, the only check of caller ids in the server; cut to the maximum length).
    /// </summary>
    private (TokenizedInput[] Inputs, EncodeOptions Options) TokenizeAll(EmbedRequest request, IEmbeddingBackend backend)
    {
        var info = backend.Info;
        var inputs = request.Inputs;
        string field = request.InputField;
        if (inputs.Count == 0)
        {
            throw new ApiException(ApiErrorType.Validation, $"`{field}` must not be empty.", field);
        }
        if (inputs.Count > Options.MaxInputsPerRequest)
        {
            throw new ApiException(ApiErrorType.TooLarge,
                $"`{field}` has {inputs.Count} inputs; the maximum per request is {Options.MaxInputsPerRequest}. Split the request.", field);
        }
        string? promptName = request.Prompt is null ? request.PromptName ?? Options.DefaultPromptName : null;
        if (promptName is not null && !info.Prompts.ContainsKey(promptName))
        {
            throw new ApiException(ApiErrorType.Validation,
                $"Unknown prompt name '{promptName}' in `{request.PromptField}`. Known names: {string.Join(", ", info.Prompts.Keys.Order(StringComparer.Ordinal))}.",
                request.PromptField);
        }
        bool truncate = request.Truncate ?? Options.Truncate;
        // The engine always truncates (and reports the count before truncation); refusing is decided here so the
        // error can carry the token count.
        var options = new EncodeOptions
        {
            PromptName = promptName,
            Prompt = request.Prompt,
            Dimensions = request.Dimensions,
            Normalize = request.Normalize,
            Truncate = true,
        };
        int max = info.MaxSequenceLength;
        var result = new TokenizedInput[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            string where = inputs.Count == 1 ? $"`{field}`" : $"`{field}[{i}]`";
            if (input.TokenIds is { } ids)
            {
                ValidateTokenIds(ids, where, info, field);
                int[] kept = ids.Count <= max && ids is int[] array ? array : [.. ids.Take(max)];
                result[i] = new TokenizedInput(kept, ids.Count > max) { OriginalTokenCount = ids.Count };
            }
            else
            {
                string text = input.Text ?? throw new ApiException(ApiErrorType.Validation, $"{where} is null; expected a string.", field);
                if (text.Length == 0)
                {
                    throw new ApiException(ApiErrorType.Validation, $"{where} is an empty string; every input must contain text.", field);
                }
                if (text.Length > Options.MaxInputCharacters)
                {
                    throw new ApiException(ApiErrorType.TooLarge,
                        $"{where} has {text.Length} characters; the maximum is {Options.MaxInputCharacters} (checked before tokenizing).", field);
                }
                var inputOptions = input.Title is null ? options : options with { Title = input.Title };
                result[i] = Tokenize(backend, text, inputOptions, where, field);
            }
            if (!truncate && result[i].Truncated)
            {
                throw new ApiException(ApiErrorType.TooLong,
                    $"{where} has {result[i].FullTokenCount} tokens; the maximum is {max} and truncation is off.", field)
                { TokenCount = result[i].FullTokenCount };
            }
        }
        return (result, options);
    }

    private static TokenizedInput Tokenize(IEmbeddingBackend backend, string text, EncodeOptions options, string where, string field)
    {
        try
        {
            return backend.Tokenize(text, options);
        }
        catch (EmbeddingGemmaException e)
        {
            var api = ApiException.From(e, field);
            throw new ApiException(api.Type, $"{where}: {e.Message}", field, e);
        }
    }

    private static void ValidateTokenIds(IReadOnlyList<int> ids, string where, BackendInfo info, string field)
    {
        if (ids.Count == 0)
        {
            throw new ApiException(ApiErrorType.Validation, $"{where} is an empty token array; every input must contain tokens.", field);
        }
        for (int j = 0; j < ids.Count; j++)
        {
            int id = ids[j];
            if (id < 0)
            {
                throw new ApiException(ApiErrorType.Validation, $"{where}: token id {id} at position {j} is negative.", field);
            }
            if (id >= info.VocabularySize)
            {
                string name = info.OutOfVocabularyTokenNames.TryGetValue(id, out var n) ? $" ({n}, which has no row in the embedding table)" : "";
                throw new ApiException(ApiErrorType.Validation,
                    $"{where}: token id {id} at position {j} is outside the vocabulary{name}; ids must be in [0, {info.VocabularySize}).", field);
            }
            if (info.ForbiddenTokenIds.TryGetValue(id, out var forbidden))
            {
                throw new ApiException(ApiErrorType.Validation,
                    $"{where}: token id {id} at position {j} is {forbidden}, which a text embedding cannot contain.", field);
            }
        }
    }
}
