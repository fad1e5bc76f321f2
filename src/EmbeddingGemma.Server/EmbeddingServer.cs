using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Server.Core;
using EmbeddingGemma.Server.Engine;
using EmbeddingGemma.Server.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Prometheus;

namespace EmbeddingGemma.Server;

/// <summary>
/// Entry points for hosting the embedding service, standalone or inside another ASP.NET Core app:
/// <code>
/// var builder = EmbeddingServer.CreateBuilder(args, o => o.Model = "path/to/model");
/// var app = builder.Build();
/// app.MapEmbeddingGemma();
/// await app.RunAsync();
/// </code>
/// </summary>
public static class EmbeddingServer
{
    /// <summary>
    /// A <see cref="WebApplicationBuilder"/> with the service registered. Settings come from the "EmbeddingGemma"
    /// configuration section (appsettings.json, environment variables such as EmbeddingGemma__ApiKey, command-line
    /// arguments such as --EmbeddingGemma:MaxBatchTokens=8192), then <paramref name="configure"/>.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args, Action<EmbeddingServerOptions>? configure = null, BackendLoader? loader = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddEmbeddingGemmaServer(builder.Configuration, configure, loader);
        return builder;
    }

    /// <summary>
    /// The default loader: <see cref="EmbeddingServerOptions.Model"/> (folder, .gguf or hub id) through
    /// <see cref="EmbeddingGemmaBackend.Load"/> with <see cref="EmbeddingServerOptions.Threads"/> compute threads, served
    /// under <see cref="EmbeddingServerOptions.ServedModelName"/>. Usable as a <see cref="BackendLoader"/>
    /// (<c>loader: EmbeddingServer.LoadModel</c>).
    /// </summary>
    public static IEmbeddingBackend LoadModel(EmbeddingServerOptions options, CancellationToken cancellationToken) =>
        ModelLoader()(options, cancellationToken);

    /// <summary>
    /// A loader like <see cref="LoadModel"/> whose model load starts from <paramref name="loadOptions"/> (e.g. a
    /// <see cref="ModelLoadOptions.HubResolver"/> that shows download progress); <see cref="ModelLoadOptions.Threads"/>
    /// comes from <see cref="EmbeddingServerOptions.Threads"/>.
    /// </summary>
    public static BackendLoader ModelLoader(ModelLoadOptions? loadOptions = null) => (options, ct) =>
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Model))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                "No model given: set EmbeddingGemma:Model (a model folder, a .gguf file or a Hugging Face id such as google/embeddinggemma-300m).");
        }
        var load = (loadOptions ?? new ModelLoadOptions()) with { Threads = options.Threads };
        return EmbeddingGemmaBackend.Load(options.Model, options.ServedModelName, load, ct);
    };
}

/// <summary>Service registration for the embedding service.</summary>
public static class EmbeddingServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers the options (bound from <paramref name="configuration"/>'s "EmbeddingGemma" section when given),
    /// metrics, the model host (background loading, graceful drain), the core service and CORS.
    /// </summary>
    public static IServiceCollection AddEmbeddingGemmaServer(this IServiceCollection services, IConfiguration? configuration = null,
        Action<EmbeddingServerOptions>? configure = null, BackendLoader? loader = null)
    {
        var optionsBuilder = services.AddOptions<EmbeddingServerOptions>();
        if (configuration is not null)
        {
            optionsBuilder.Bind(configuration.GetSection(EmbeddingServerOptions.SectionName));
        }
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }
        services.TryAddSingleton(loader ?? new BackendLoader(EmbeddingServer.LoadModel));
        services.TryAddSingleton(_ => new ServerMetrics());
        services.TryAddSingleton<SearchHost>();
        services.TryAddSingleton(sp => new RequestAdmission(
            Math.Max(1, sp.GetRequiredService<IOptions<EmbeddingServerOptions>>().Value.MaxInFlightBytes), sp.GetRequiredService<ServerMetrics>()));
        services.TryAddSingleton<ModelHost>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelHost>());
        services.TryAddSingleton<EmbeddingService>();
        // The drain on shutdown: the host waits this long for the requests in flight (ModelHost.StopAsync, Kestrel).
        services.AddOptions<HostOptions>().Configure<IOptions<EmbeddingServerOptions>>((h, o) =>
            h.ShutdownTimeout = TimeSpan.FromSeconds(o.Value.DrainTimeoutSeconds));
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<EmbeddingServerOptions>>((k, o) =>
            k.Limits.MaxRequestBodySize = o.Value.MaxRequestBodyBytes + JsonRequest.DrainAllowance);
        services.AddCors();
        return services;
    }
}

/// <summary>Endpoint mapping for the embedding service.</summary>
public static class EmbeddingServerApplicationExtensions
{
    /// <summary>The CORS policy name used by the service.</summary>
    public const string CorsPolicy = "EmbeddingGemma";

    /// <summary>
    /// Adds CORS (when origins are configured) and the API-key check, then maps /embed, /v1/embeddings,
    /// /embeddings, /tokenize, /search, /health, /info, /v1/models and /metrics.
    /// </summary>
    public static WebApplication MapEmbeddingGemma(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<IOptions<EmbeddingServerOptions>>().Value;
        if (options.CorsOrigins.Count > 0)
        {
            app.UseCors(policy =>
            {
                if (options.CorsOrigins.Contains("*"))
                {
                    policy.AllowAnyOrigin();
                }
                else
                {
                    policy.WithOrigins([.. options.CorsOrigins]);
                }
                policy.WithMethods("GET", "POST")
                    .WithHeaders("Content-Type", "Authorization")
                    .WithExposedHeaders("x-tokenization-time", "x-queue-time", "x-inference-time", "x-total-time", "x-compute-tokens", "x-truncated-inputs", "Retry-After");
            });
        }
        app.UseMiddleware<ApiKeyMiddleware>();
        EmbeddingEndpoints.Map(app);
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        app.MapMetrics("/metrics", metrics.Registry);
        return app;
    }
}
