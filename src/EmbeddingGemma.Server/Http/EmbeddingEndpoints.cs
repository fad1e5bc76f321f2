using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using EmbeddingGemma.Embeddings.Precision;
using EmbeddingGemma.Server.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmbeddingGemma.Server.Http;

/// <summary>The HTTP contracts: article /embed, TEI /embed, OpenAI /v1/embeddings, /tokenize, /health, /info.</summary>
internal static class EmbeddingEndpoints
{
    public static readonly string Version =
        typeof(EmbeddingEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/embed", ctx => Run(ctx, "embed", ErrorShape.Native, EmbedNativeAsync));
        app.MapPost("/v1/embeddings", ctx => Run(ctx, "v1_embeddings", ErrorShape.OpenAI, EmbedOpenAIAsync));
        app.MapPost("/embeddings", ctx => Run(ctx, "v1_embeddings", ErrorShape.OpenAI, EmbedOpenAIAsync));
        app.MapPost("/tokenize", ctx => Run(ctx, "tokenize", ErrorShape.Native, TokenizeAsync));
        app.MapPost("/search", ctx => Run(ctx, "search", ErrorShape.Native, SearchAsync));
        // GET endpoints answer HEAD too (same status and headers, no body: Kestrel discards the body of a HEAD response).
        string[] getOrHead = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/health", getOrHead, ctx => Run(ctx, "health", ErrorShape.Native, HealthAsync));
        app.MapMethods("/info", getOrHead, ctx => Run(ctx, "info", ErrorShape.Native, InfoAsync));
        app.MapMethods("/v1/models", getOrHead, ctx => Run(ctx, "v1_models", ErrorShape.OpenAI, ModelsAsync));
    }

    /// <summary>
    /// Runs a handler and renders every failure as the endpoint's JSON error: expected ones (<see cref="ApiException"/>,
    /// library errors, Kestrel's bad-request/timeout errors) without a log line, unexpected ones as 500 with one error
    /// log. <c>embeddinggemma_requests_total</c> records the status code actually sent.
    /// </summary>
    private static async Task Run(HttpContext context, string endpoint, ErrorShape shape, Func<HttpContext, Task> handler)
    {
        var metrics = context.RequestServices.GetRequiredService<ServerMetrics>();
        long start = Stopwatch.GetTimestamp();
        try
        {
            await handler(context).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            await ErrorWriter.WriteAsync(context, e, shape).ConfigureAwait(false);
        }
        catch (EmbeddingGemmaException e)
        {
            await ErrorWriter.WriteAsync(context, ApiException.From(e), shape).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            context.Response.StatusCode = 499; // client closed the request (nobody reads this)
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel: the body arrived too slowly (408), was cut off or malformed (400), ...
            var type = e.StatusCode switch
            {
                StatusCodes.Status408RequestTimeout => ApiErrorType.Timeout,
                StatusCodes.Status413PayloadTooLarge => ApiErrorType.TooLarge,
                _ => ApiErrorType.Validation,
            };
            await ErrorWriter.WriteAsync(context, new ApiException(type, e.Message, "body", e), shape).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // whatever failed, the client is gone
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
#pragma warning restore CA1031
        {
            // the client went away mid-request (connection reset while reading or writing)
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = 499;
            }
        }
#pragma warning disable CA1031 // a handler bug must still give the client a JSON 500 and the metrics its real status
        catch (Exception e)
#pragma warning restore CA1031
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(EmbeddingEndpoints).FullName!)
                .LogError(e, "Unhandled error in {Method} {Path}", context.Request.Method, context.Request.Path.Value);
            if (context.Response.HasStarted)
            {
                context.Abort(); // the status line is already sent: the client sees a cut-off response
            }
            else
            {
                await ErrorWriter.WriteAsync(context, new ApiException(ApiErrorType.Internal, "Internal server error.", null, e), shape).ConfigureAwait(false);
            }
        }
        finally
        {
            metrics.Requests.WithLabels(endpoint, context.Response.StatusCode.ToString(CultureInfo.InvariantCulture)).Inc();
            metrics.RequestDuration.WithLabels(endpoint).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    private static EmbeddingServerOptions Options(HttpContext c) => c.RequestServices.GetRequiredService<ModelHost>().Options;
    private static EmbeddingService Service(HttpContext c) => c.RequestServices.GetRequiredService<EmbeddingService>();

    // ---------------------------------------------------------------- POST /embed (article shape or TEI shape)

    private static async Task EmbedNativeAsync(HttpContext context)
    {
        using var doc = await JsonRequest.ReadAsync(context, Options(context).MaxRequestBodyBytes).ConfigureAwait(false);
        var (request, tei) = ParseEmbedNative(doc.RootElement);
        if (tei)
        {
            await EmbedTeiAsync(context, request).ConfigureAwait(false);
        }
        else
        {
            await EmbedArticleAsync(context, request).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The request of a <c>POST /embed</c> body (article shape, or TEI shape when <c>Tei</c>); 400
    /// (<see cref="ApiException"/>) naming the field otherwise. Pure: no I/O (fuzz target "http").
    /// </summary>
    internal static (EmbedRequest Request, bool Tei) ParseEmbedNative(JsonElement root)
    {
        bool article = root.TryGetProperty("texts", out _);
        bool tei = root.TryGetProperty("inputs", out _);
        if (article == tei)
        {
            throw new ApiException(ApiErrorType.Validation, article
                ? "Send either `texts` (article shape) or `inputs` (TEI shape), not both."
                : "Missing input: send `texts` (article shape: {\"texts\": [...], \"task_type\", \"dimensions\", \"normalize\"}) or `inputs` (TEI shape).",
                article ? "texts" : "inputs");
        }
        return article ? (ParseArticle(root), false) : (ParseTei(root), true);
    }

    private static EmbedRequest ParseArticle(JsonElement root)
    {
        var texts = JsonRequest.Inputs(root, "texts", allowTokens: false);
        if (root.GetProperty("texts").ValueKind != JsonValueKind.Array)
        {
            throw new ApiException(ApiErrorType.Validation, "`texts` must be an array of strings.", "texts");
        }
        var titles = JsonRequest.OptionalStringArray(root, "titles");
        if (titles is not null)
        {
            if (titles.Count != texts.Count)
            {
                throw new ApiException(ApiErrorType.Validation, $"`titles` has {titles.Count} entries but `texts` has {texts.Count}; give one title (or null) per text.", "titles");
            }
            texts = texts.Select((t, i) => t with { Title = titles[i] }).ToList();
        }
        return NativeEmbedRequest(root, texts, "texts", "task_type", "prompt_name");
    }

    private static async Task EmbedArticleAsync(HttpContext context, EmbedRequest request)
    {
        var result = await Service(context).EmbedAsync(request, context.RequestAborted).ConfigureAwait(false);
        var quantized = Quantize(request, result);
        await WriteJsonAsync(context, result, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("embeddings");
            for (int i = 0; i < result.Vectors.Count; i++)
            {
                WriteVector(w, result, quantized, i);
            }
            w.WriteEndArray();
            if (quantized is not null)
            {
                w.WriteString("precision", quantized.Precision.Name());
            }
            w.WriteString("model", result.Model);
            w.WriteNumber("dimensions", result.Dimensions);
            w.WriteBoolean("normalized", result.Normalized);
            w.WriteStartArray("truncated");
            foreach (bool t in result.Truncated)
            {
                w.WriteBooleanValue(t);
            }
            w.WriteEndArray();
            WriteUsage(w, result);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>The fields the article's and TEI's /embed requests share; they differ in the input field and which prompt field wins.</summary>
    private static EmbedRequest NativeEmbedRequest(JsonElement root, IReadOnlyList<EmbedInput> inputs, string inputField, string promptField, string alternatePromptField)
    {
        var (promptName, usedField) = PromptName(root, promptField, alternatePromptField);
        var (precision, ranges) = ParsePrecision(root);
        return new EmbedRequest
        {
            Precision = precision,
            Ranges = ranges,
            Inputs = inputs,
            PromptName = promptName,
            PromptField = usedField,
            Prompt = JsonRequest.OptionalString(root, "prompt"),
            Dimensions = JsonRequest.OptionalInt(root, "dimensions"),
            Normalize = JsonRequest.OptionalBool(root, "normalize") ?? true,
            Truncate = JsonRequest.OptionalBool(root, "truncate"),
            InputField = inputField,
        };
    }

    private static EmbedRequest ParseTei(JsonElement root)
    {
        var inputs = JsonRequest.Inputs(root, "inputs");
        var direction = JsonRequest.OptionalString(root, "truncation_direction");
        if (direction is not null && !direction.Equals("right", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ApiErrorType.Validation,
                direction.Equals("left", StringComparison.OrdinalIgnoreCase)
                    ? "`truncation_direction` \"left\" is not supported: EmbeddingGemma truncates on the right (keeps the start and <eos>)."
                    : $"`truncation_direction` must be \"right\" or \"left\"; got \"{direction}\".",
                "truncation_direction");
        }
        return NativeEmbedRequest(root, inputs, "inputs", "prompt_name", "task_type");
    }

    private static async Task EmbedTeiAsync(HttpContext context, EmbedRequest request)
    {
        var result = await Service(context).EmbedAsync(request, context.RequestAborted).ConfigureAwait(false);
        var quantized = Quantize(request, result);
        await WriteJsonAsync(context, result, w =>
        {
            w.WriteStartArray();
            for (int i = 0; i < result.Vectors.Count; i++)
            {
                WriteVector(w, result, quantized, i);
            }
            w.WriteEndArray();
        }).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- POST /v1/embeddings (OpenAI)

    private static async Task EmbedOpenAIAsync(HttpContext context)
    {
        using var doc = await JsonRequest.ReadAsync(context, Options(context).MaxRequestBodyBytes).ConfigureAwait(false);
        var (request, base64) = ParseOpenAI(doc.RootElement);
        var result = await Service(context).EmbedAsync(request, context.RequestAborted).ConfigureAwait(false);
        var quantized = Quantize(request, result);
        await WriteJsonAsync(context, result, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (int i = 0; i < result.Vectors.Count; i++)
            {
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                if (base64)
                {
                    // float32: little-endian float bytes (OpenAI); other precisions: the raw int8/uint8/packed-bit bytes.
                    w.WriteString("embedding", quantized is null ? ToBase64(result.Vectors[i]) : Convert.ToBase64String(quantized.RowData(i)));
                }
                else
                {
                    w.WritePropertyName("embedding");
                    WriteVector(w, result, quantized, i);
                }
                w.WriteNumber("index", i);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (quantized is not null)
            {
                w.WriteString("precision", quantized.Precision.Name());
            }
            w.WriteString("model", result.Model);
            WriteUsage(w, result);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>The request of a <c>POST /v1/embeddings</c> body and whether it asks for base64; 400 otherwise. Pure (fuzz target "http").</summary>
    internal static (EmbedRequest Request, bool Base64) ParseOpenAI(JsonElement root)
    {
        var inputs = JsonRequest.Inputs(root, "input");
        var format = JsonRequest.OptionalString(root, "encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
        {
            throw new ApiException(ApiErrorType.Validation, $"Invalid value for 'encoding_format' = {format}. Supported values are 'float' and 'base64'.", "encoding_format");
        }
        _ = JsonRequest.OptionalString(root, "model"); // a single model is served; any name is accepted
        _ = JsonRequest.OptionalString(root, "user");   // accepted, not used
        var (promptName, promptField) = PromptName(root, "prompt_name", "task_type", "task");
        var (precision, ranges) = ParsePrecision(root);
        var request = new EmbedRequest
        {
            Precision = precision,
            Ranges = ranges,
            Inputs = inputs,
            PromptName = promptName,
            PromptField = promptField,
            Prompt = JsonRequest.OptionalString(root, "prompt"),
            Dimensions = JsonRequest.OptionalInt(root, "dimensions"),
            Normalize = JsonRequest.OptionalBool(root, "normalize") ?? true,
            Truncate = JsonRequest.OptionalBool(root, "truncate"),
            InputField = "input",
        };
        return (request, format == "base64");
    }

    /// <summary>Little-endian float32 bytes, base64 (what OpenAI clients decode).</summary>
    public static string ToBase64(float[] v)
    {
        if (BitConverter.IsLittleEndian)
        {
            return Convert.ToBase64String(MemoryMarshal.AsBytes(v.AsSpan()));
        }
        var bytes = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), v[i]);
        }
        return Convert.ToBase64String(bytes);
    }

    // ---------------------------------------------------------------- POST /tokenize

    private static async Task TokenizeAsync(HttpContext context)
    {
        using var doc = await JsonRequest.ReadAsync(context, Options(context).MaxRequestBodyBytes).ConfigureAwait(false);
        var request = ParseTokenize(doc.RootElement);
        var result = Service(context).Tokenize(request);
        await WriteJsonAsync(context, null, w =>
        {
            w.WriteStartObject();
            w.WriteString("model", result.Model);
            w.WriteStartArray("tokens");
            foreach (var t in result.Inputs)
            {
                w.WriteStartArray();
                foreach (int id in t.Ids)
                {
                    w.WriteNumberValue(id);
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteStartArray("token_counts");
            foreach (var t in result.Inputs)
            {
                w.WriteNumberValue(t.FullTokenCount);
            }
            w.WriteEndArray();
            w.WriteStartArray("truncated");
            foreach (var t in result.Inputs)
            {
                w.WriteBooleanValue(t.Truncated);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>The request of a <c>POST /tokenize</c> body; 400 otherwise. Pure (fuzz target "http").</summary>
    internal static EmbedRequest ParseTokenize(JsonElement root)
    {
        string field = root.TryGetProperty("inputs", out _) ? "inputs" : root.TryGetProperty("texts", out _) ? "texts" : "input";
        var inputs = JsonRequest.Inputs(root, field, allowTokens: false);
        var (promptName, promptField) = PromptName(root, "prompt_name", "task_type");
        var request = new EmbedRequest
        {
            Inputs = inputs,
            PromptName = promptName,
            PromptField = promptField,
            Prompt = JsonRequest.OptionalString(root, "prompt"),
            Truncate = JsonRequest.OptionalBool(root, "truncate"),
            InputField = field,
        };
        return request;
    }

    // ---------------------------------------------------------------- POST /search (with --db)

    private static readonly JsonSerializerOptions SearchJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static async Task SearchAsync(HttpContext context)
    {
        var host = context.RequestServices.GetRequiredService<ModelHost>();
        if (host.Search is not { Enabled: true } search)
        {
            throw new ApiException(ApiErrorType.NotFound,
                "Search is not enabled on this server: start it with --db FILE (an index made by `embeddinggemma index`).");
        }
        using var doc = await JsonRequest.ReadAsync(context, host.Options.MaxRequestBodyBytes).ConfigureAwait(false);
        var request = ParseSearch(doc.RootElement);
        using var lease = host.BeginRequest(); // 503 while the model loads; drained on shutdown
        var service = search.Service ?? throw new ApiException(ApiErrorType.Unavailable, "The search index is not ready yet. Retry shortly.");
        var response = await service.SearchAsync(request, context.RequestAborted).ConfigureAwait(false);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(response, SearchJson);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The request of a <c>POST /search</c> body; 400 otherwise. Pure (fuzz target "http").</summary>
    internal static Search.SearchRequest ParseSearch(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ApiException(ApiErrorType.Validation, $"The request body must be a JSON object; got {JsonRequest.Describe(root.ValueKind)}.");
        }
        try
        {
            return root.Deserialize<Search.SearchRequest>()!;
        }
        catch (JsonException e)
        {
            throw new ApiException(ApiErrorType.Validation, $"Invalid search request at {e.Path}: {e.Message}", e.Path?.TrimStart('$', '.'));
        }
    }

    // ---------------------------------------------------------------- GET /health, /info, /v1/models

    private static Task HealthAsync(HttpContext context)
    {
        var host = context.RequestServices.GetRequiredService<ModelHost>();
        var state = host.State;
        context.Response.StatusCode = state == ModelState.Ready ? 200 : 503;
        if (state == ModelState.Loading)
        {
            context.Response.Headers.RetryAfter = host.Options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }
        return WriteJsonAsync(context, null, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", state switch
            {
                ModelState.Ready => "healthy",
                ModelState.Loading => "loading",
                ModelState.Failed => "failed",
                _ => "stopping",
            });
            w.WriteBoolean("model_loaded", state == ModelState.Ready);
            if (host.LoadError is { } err)
            {
                w.WriteString("error", err);
            }
            w.WriteEndObject();
        });
    }

    private static Task InfoAsync(HttpContext context)
    {
        var host = context.RequestServices.GetRequiredService<ModelHost>();
        using var lease = host.BeginRequest();
        var info = lease.Backend.Info;
        var o = host.Options;
        return WriteJsonAsync(context, null, w =>
        {
            w.WriteStartObject();
            w.WriteString("model_name", o.ServedModelName ?? info.ModelName);
            w.WriteString("model_source", info.Source);
            w.WriteString("architecture", info.Architecture);
            w.WriteNumber("max_sequence_length", info.MaxSequenceLength);
            w.WriteNumber("embedding_dimension", info.Dimension);
            w.WriteStartArray("matryoshka_dimensions");
            foreach (int d in info.MatryoshkaDimensions)
            {
                w.WriteNumberValue(d);
            }
            w.WriteEndArray();
            w.WriteStartObject("prompts");
            foreach (var (name, prompt) in info.Prompts.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                w.WriteString(name, prompt);
            }
            w.WriteEndObject();
            if (o.DefaultPromptName is null) { w.WriteNull("default_prompt_name"); } else { w.WriteString("default_prompt_name", o.DefaultPromptName); }
            w.WriteNumber("vocabulary_size", info.VocabularySize);
            w.WriteString("weight_type", info.WeightType);
            w.WriteNumber("threads", info.Threads);
            w.WriteString("device", "cpu");
            w.WriteStartObject("limits");
            w.WriteNumber("max_batch_tokens", o.MaxBatchTokens);
            w.WriteNumber("max_batch_requests", o.MaxBatchRequests);
            w.WriteNumber("max_queued_inputs", o.MaxQueuedInputs);
            w.WriteNumber("max_inputs_per_request", o.MaxInputsPerRequest);
            w.WriteNumber("max_input_characters", o.MaxInputCharacters);
            w.WriteNumber("max_request_body_bytes", o.MaxRequestBodyBytes);
            w.WriteNumber("max_inflight_bytes", o.MaxInFlightBytes);
            w.WriteBoolean("truncate", o.Truncate);
            w.WriteEndObject();
            w.WriteStartObject("search");
            var index = host.Search?.Index;
            w.WriteBoolean("enabled", index is not null);
            if (index is not null)
            {
                var ii = index.GetInfo();
                w.WriteString("db", ii.Path);
                w.WriteNumber("documents", ii.Documents);
                w.WriteNumber("chunks", ii.Chunks);
                if (ii.Dimension is int dim) { w.WriteNumber("dimension", dim); } else { w.WriteNull("dimension"); }
                w.WriteString("precision", ii.Precision.Name());
                if (ii.ModelId is null) { w.WriteNull("index_model"); } else { w.WriteString("index_model", ii.ModelId); }
                if (ii.ModelFingerprint is null) { w.WriteNull("index_model_fingerprint"); } else { w.WriteString("index_model_fingerprint", ii.ModelFingerprint); }
            }
            w.WriteEndObject();
            w.WriteBoolean("api_key_required", !string.IsNullOrEmpty(o.ApiKey));
            w.WriteString("version", Version);
            w.WriteEndObject();
        });
    }

    private static Task ModelsAsync(HttpContext context)
    {
        var host = context.RequestServices.GetRequiredService<ModelHost>();
        using var lease = host.BeginRequest();
        string name = host.Options.ServedModelName ?? lease.Backend.Info.ModelName;
        return WriteJsonAsync(context, null, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            w.WriteStartObject();
            w.WriteString("id", name);
            w.WriteString("object", "model");
            w.WriteNumber("created", 0);
            w.WriteString("owned_by", "embeddinggemma.net");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    // ---------------------------------------------------------------- helpers

    private static (string? Name, string Field) PromptName(JsonElement root, params string[] fields)
    {
        string? found = null;
        string field = fields[0];
        foreach (var f in fields)
        {
            var v = JsonRequest.OptionalString(root, f);
            if (v is null)
            {
                continue;
            }
            if (found is null)
            {
                found = v;
                field = f;
            }
            else if (!string.Equals(found, v, StringComparison.Ordinal))
            {
                throw new ApiException(ApiErrorType.Validation, $"`{field}` and `{f}` name different prompts ('{found}' vs '{v}'); give one.", f);
            }
        }
        return (found, field);
    }

    /// <summary>
    /// The <c>precision</c> extension (sentence-transformers' names: float32, int8, uint8, binary, ubinary; default
    /// float32) and, for int8/uint8, the optional <c>ranges</c> <c>[[min, ...], [max, ...]]</c> (sentence-transformers'
    /// (2, dim) array); 400 naming the field otherwise. Pure (fuzz target "http").
    /// </summary>
    internal static (EmbeddingPrecision Precision, QuantizationRanges? Ranges) ParsePrecision(JsonElement root)
    {
        var name = JsonRequest.OptionalString(root, "precision");
        var precision = name is null ? EmbeddingPrecision.Float32 : EmbeddingPrecisions.TryParse(name)
            ?? throw new ApiException(ApiErrorType.Validation, $"Invalid value for 'precision' = {name}. Supported values are {EmbeddingPrecisions.Names}.", "precision");
        if (!root.TryGetProperty("ranges", out var r) || r.ValueKind == JsonValueKind.Null)
        {
            return (precision, null);
        }
        if (!precision.NeedsRanges())
        {
            throw new ApiException(ApiErrorType.Validation, $"`ranges` calibrates int8 and uint8 only; the request asks for precision {precision.Name()}.", "ranges");
        }
        if (r.ValueKind != JsonValueKind.Array || r.GetArrayLength() != 2 || r[0].ValueKind != JsonValueKind.Array || r[1].ValueKind != JsonValueKind.Array)
        {
            throw new ApiException(ApiErrorType.Validation, "`ranges` must be [[min per dimension], [max per dimension]] (two arrays of numbers).", "ranges");
        }
        float[] Row(JsonElement a, string which)
        {
            var values = new float[a.GetArrayLength()];
            int i = 0;
            foreach (var v in a.EnumerateArray())
            {
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetSingle(out values[i]) || !float.IsFinite(values[i]))
                {
                    throw new ApiException(ApiErrorType.Validation, $"`ranges` {which} value {i} is not a finite number ({v.GetRawText()}).", "ranges");
                }
                i++;
            }
            return values;
        }
        try
        {
            return (precision, new QuantizationRanges(Row(r[0], "min"), Row(r[1], "max")));
        }
        catch (EmbeddingGemmaException e)
        {
            throw new ApiException(ApiErrorType.Validation, "`ranges`: " + e.Message, "ranges");
        }
    }

    /// <summary>The request's vectors at its precision, or null for float32.</summary>
    private static QuantizedEmbeddings? Quantize(EmbedRequest request, EmbedResult result)
    {
        if (request.Precision == EmbeddingPrecision.Float32)
        {
            return null;
        }
        if (request.Ranges is { } ranges && ranges.Dimensions != result.Dimensions)
        {
            throw new ApiException(ApiErrorType.Validation,
                $"`ranges` has {ranges.Dimensions} dimensions; the embeddings have {result.Dimensions}.", "ranges");
        }
        return EmbeddingQuantizer.Quantize(result.Vectors, request.Precision, request.Ranges);
    }

    private static void WriteVector(Utf8JsonWriter w, EmbedResult result, QuantizedEmbeddings? quantized, int i)
    {
        if (quantized is null)
        {
            WriteFloats(w, result.Vectors[i]);
            return;
        }
        w.WriteStartArray();
        foreach (int x in quantized.IntegerRow(i))
        {
            w.WriteNumberValue(x);
        }
        w.WriteEndArray();
    }

    private static void WriteFloats(Utf8JsonWriter w, float[] v)
    {
        w.WriteStartArray();
        foreach (float x in v)
        {
            w.WriteNumberValue(x);
        }
        w.WriteEndArray();
    }

    private static void WriteUsage(Utf8JsonWriter w, EmbedResult result)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", result.TotalTokens);
        w.WriteNumber("total_tokens", result.TotalTokens);
        w.WriteEndObject();
    }

    private static async Task WriteJsonAsync(HttpContext context, EmbedResult? result, Action<Utf8JsonWriter> write)
    {
        var response = context.Response;
        response.ContentType = "application/json";
        if (result is not null)
        {
            var h = response.Headers;
            var t = result.Timings;
            h["x-tokenization-time"] = Ms(t.Tokenize);
            h["x-queue-time"] = Ms(t.Queue);
            h["x-inference-time"] = Ms(t.Inference);
            h["x-total-time"] = Ms(t.Total);
            h["x-compute-tokens"] = result.TotalTokens.ToString(CultureInfo.InvariantCulture);
            var truncated = Enumerable.Range(0, result.Truncated.Count).Where(i => result.Truncated[i]).ToArray();
            if (truncated.Length > 0)
            {
                h["x-truncated-inputs"] = string.Join(',', truncated);
            }
        }
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer, JsonOutput.Options))
        {
            write(w);
        }
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("F3", CultureInfo.InvariantCulture);
}
