using System.CommandLine;
using EmbeddingGemma.Server;
using EmbeddingGemma.Server.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmbeddingGemma.Cli.Commands;

/// <summary>
/// <c>embeddinggemma serve --model &lt;folder|gguf|hub id&gt; [--db index.db] [--urls URL] [--api-key K] [--max-batch-tokens N] ...</c>:
/// the HTTP embedding service (article /embed, TEI /embed, OpenAI /v1/embeddings, /tokenize, /health, /info,
/// /metrics). The listener starts at once; the model loads in the background (/health answers 503 until ready).
/// Settings also come from appsettings.json in the working folder and environment variables (EmbeddingGemma__ApiKey, ...);
/// flags win.
/// </summary>
internal static class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:8080";

    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model folder, .gguf file or Hugging Face id (e.g. google/embeddinggemma-300m; gated: set HF_TOKEN). Also EmbeddingGemma__Model." };
        var urls = new Option<string?>("--urls") { Description = $"Listen address(es), ';'-separated (default {DefaultUrls}, or ASPNETCORE_URLS)." };
        var apiKey = new Option<string?>("--api-key") { Description = "Require \"Authorization: Bearer <key>\" (default: $EMBEDDINGGEMMA_API_KEY; /health and /metrics stay public)." };
        var name = new Option<string?>("--served-model-name") { Description = "Model name reported in responses (default: the folder/file name or hub id)." };
        var maxBatchTokens = new Option<int?>("--max-batch-tokens") { Description = "Token budget of one batch across concurrent requests (default 16384)." };
        var maxBatchRequests = new Option<int?>("--max-batch-requests") { Description = "Most sequences in one batch (default 256)." };
        var maxQueued = new Option<int?>("--max-queued-inputs") { Description = "Most inputs queued or running; beyond: 429 + Retry-After (default 1024)." };
        var maxInputs = new Option<int?>("--max-inputs-per-request") { Description = "Most inputs in one request (default 256)." };
        var maxChars = new Option<int?>("--max-input-chars") { Description = "Most characters per input, checked before tokenizing (default 131072)." };
        var maxBody = new Option<long?>("--max-body-bytes") { Description = "Most bytes per request body; beyond: 413 (default 4194304)." };
        var maxInFlight = new Option<long?>("--max-inflight-mb")
        {
            Description = $"Most MiB of request bodies in flight at once (read, parsed, queued or being answered); beyond: 503 + Retry-After before the body is read (default {EmbeddingServerOptions.DefaultMaxInFlightBytes >> 20}). Bounds the server's request memory.",
        };
        maxInFlight.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<long?>();
            if (v is < 1 or > 1L << 20)
            {
                r.AddError($"--max-inflight-mb must be between 1 and {1L << 20}, got {v}.");
            }
        });
        var noTruncate = new Option<bool>("--no-truncate") { Description = "Refuse over-long inputs with their token count instead of truncating them (per-request `truncate` still wins)." };
        var defaultPrompt = new Option<string?>("--default-prompt-name") { Description = "Prompt applied when a request names none (e.g. query, document, retrieval_query; default: none)." };
        var cors = new Option<string[]>("--cors-origin") { Description = "Allow this browser origin (repeatable; \"*\" for any). Default: no CORS headers." };
        var db = new Option<string?>("--db") { Description = "Serve POST /search over this index (made by `embeddinggemma index` with the same model); opened read-only." };
        var retryAfter = new Option<int?>("--retry-after") { Description = "Seconds announced in Retry-After on 429/503 (default 1)." };
        var threads = CliOptions.Threads();
        var drainTimeout = new Option<int?>("--drain-timeout")
        {
            Description = $"Seconds to finish the requests already accepted on SIGTERM / Ctrl+C before exiting (default {EmbeddingServerOptions.DefaultDrainTimeoutSeconds}); new requests get 503 meanwhile.",
        };
        drainTimeout.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int?>();
            if (v is < 0 or > EmbeddingServerOptions.MaxDrainTimeoutSeconds)
            {
                r.AddError($"--drain-timeout must be between 0 and {EmbeddingServerOptions.MaxDrainTimeoutSeconds} seconds, got {v}.");
            }
        });

        var command = new Command(Name, "Serve embeddings over HTTP: OpenAI /v1/embeddings, /embed (article and TEI shapes), /tokenize, /search (with --db), /health, /info, /metrics.");
        foreach (var option in new Option[] { model, urls, apiKey, name, maxBatchTokens, maxBatchRequests, maxQueued, maxInputs, maxChars, maxBody, maxInFlight, noTruncate, defaultPrompt, cors, retryAfter, db, threads, drainTimeout })
        {
            command.Options.Add(option);
        }
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var builder = EmbeddingServer.CreateBuilder([], o =>
            {
                o.Model = parse.GetValue(model) ?? o.Model;
                o.ApiKey = parse.GetValue(apiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_API_KEY")) ?? o.ApiKey;
                o.ServedModelName = parse.GetValue(name) ?? o.ServedModelName;
                o.MaxBatchTokens = parse.GetValue(maxBatchTokens) ?? o.MaxBatchTokens;
                o.MaxBatchRequests = parse.GetValue(maxBatchRequests) ?? o.MaxBatchRequests;
                o.MaxQueuedInputs = parse.GetValue(maxQueued) ?? o.MaxQueuedInputs;
                o.MaxInputsPerRequest = parse.GetValue(maxInputs) ?? o.MaxInputsPerRequest;
                o.MaxInputCharacters = parse.GetValue(maxChars) ?? o.MaxInputCharacters;
                o.MaxRequestBodyBytes = parse.GetValue(maxBody) ?? o.MaxRequestBodyBytes;
                o.MaxInFlightBytes = parse.GetValue(maxInFlight) is long mb ? mb << 20 : o.MaxInFlightBytes;
                o.RetryAfterSeconds = parse.GetValue(retryAfter) ?? o.RetryAfterSeconds;
                o.DefaultPromptName = parse.GetValue(defaultPrompt) ?? o.DefaultPromptName;
                o.SearchDatabase = parse.GetValue(db) ?? o.SearchDatabase;
                o.DrainTimeoutSeconds = parse.GetValue(drainTimeout) ?? o.DrainTimeoutSeconds;
                if (parse.GetResult(threads) is not null)
                {
                    o.Threads = parse.GetValue(threads);
                }
                if (parse.GetValue(noTruncate))
                {
                    o.Truncate = false;
                }
                foreach (var origin in parse.GetValue(cors) ?? [])
                {
                    o.CorsOrigins.Add(origin);
                }
            }, EmbeddingServer.ModelLoader(CliModels.LoadOptions())); // hub ids download with progress on stderr; threads from o.Threads
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning); // no per-request lines; appsettings can override
            var listen = parse.GetValue(urls) ?? builder.Configuration["urls"] ?? DefaultUrls;
            builder.WebHost.UseUrls(listen.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            var app = builder.Build();
            var resolved = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmbeddingServerOptions>>().Value;
            if (string.IsNullOrWhiteSpace(resolved.Model))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    "serve needs a model: --model <folder|file.gguf|hub id> (or EmbeddingGemma__Model / appsettings.json EmbeddingGemma:Model).");
            }
            resolved.Validate();
            app.MapEmbeddingGemma();
            await using (app.ConfigureAwait(false))
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"embeddinggemma: listening on {listen}; loading {resolved.Model} (GET /health is 503 until ready)").ConfigureAwait(false);
                var host = app.Services.GetRequiredService<ModelHost>();
                using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, app.Lifetime.ApplicationStopping);
                try
                {
                    await host.Loaded.WaitAsync(stopping.Token).ConfigureAwait(false);
                    await Console.Error.WriteLineAsync($"embeddinggemma: ready in {host.LoadDuration?.TotalSeconds:F1} s ({host.Backend!.Info.ModelName}, {host.Backend.Info.Dimension} dimensions)").ConfigureAwait(false);
                }
                catch (EmbeddingGemmaException)
                {
                    await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                    throw; // mapped to an exit code by CliErrors
                }
                catch (OperationCanceledException)
                {
                }
                // SIGTERM / Ctrl+C: the host's console lifetime stops the app (System.CommandLine leaves these signals to
                // it for serve, see TerminationTimeout); StopAsync then drains within DrainTimeoutSeconds.
                await ((IHost)app).WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// True when the parsed command is <c>serve</c>: its web host handles SIGTERM / SIGINT itself and drains for up to
    /// <c>--drain-timeout</c>, so System.CommandLine must not handle them (its default process-termination timeout
    /// ends the process 2 s after the signal, dropping the requests in flight).
    /// </summary>
    public static bool HandlesTermination(ParseResult parse) => parse?.CommandResult.Command.Name == Name;

    /// <summary>The command's name.</summary>
    public const string Name = "serve";

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
