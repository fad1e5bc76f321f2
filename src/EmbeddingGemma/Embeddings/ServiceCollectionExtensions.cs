using EmbeddingGemma.Hub;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace EmbeddingGemma.Embeddings;

/// <summary>Settings of <see cref="EmbeddingGemmaServiceCollectionExtensions.AddEmbeddingGemma"/>.</summary>
public sealed class EmbeddingGemmaServiceOptions
{
    /// <summary>A model folder, a <c>.gguf</c>, a Hugging Face id or an Ollama name (see <see cref="ModelLocator"/>).</summary>
    public string Model { get; set; } = "";

    /// <summary>How the model is loaded (encoder, tokenizer override, ...).</summary>
    public ModelLoadOptions LoadOptions { get; set; } = new();

    /// <summary>Defaults of every request (prompt, dimensions, normalisation); per-call options override them.</summary>
    public EncodeOptions DefaultEncodeOptions { get; set; } = new();

    /// <summary>Hub settings for a model id; null: <see cref="HubOptions.FromEnvironment()"/> (HF_TOKEN, HF_HOME, ...).</summary>
    public HubOptions? Hub { get; set; }

    /// <summary>Receives download progress when the model is fetched from the Hub on first use.</summary>
    public IProgress<DownloadProgress>? DownloadProgress { get; set; }

    /// <summary>The model id in generator metadata and on each embedding; null: the Hub id, or the file/folder name.</summary>
    public string? ModelId { get; set; }
}

/// <summary>Dependency-injection registration of EmbeddingGemma.</summary>
public static class EmbeddingGemmaServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="EmbeddingGemmaModel"/> (singleton, loaded — and downloaded if needed — on first use, disposed
    /// with the container) and an <see cref="IEmbeddingGenerator{String, Embedding}"/> over it through
    /// Microsoft.Extensions.AI's <c>AddEmbeddingGenerator</c>; the returned builder adds middleware
    /// (<c>.UseLogging()</c>, <c>.UseOpenTelemetry()</c>, <c>.UseDistributedCache()</c>, <c>.ConfigureOptions(...)</c>).
    /// </summary>
    public static EmbeddingGeneratorBuilder<string, Embedding<float>> AddEmbeddingGemma(this IServiceCollection services,
        string modelPathOrId, Action<EmbeddingGemmaServiceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = Configure(modelPathOrId, configure);
        services.AddSingleton(_ => LoadModel(options));
        return services.AddEmbeddingGenerator(sp => CreateGenerator(sp.GetRequiredService<EmbeddingGemmaModel>(), options));
    }

    /// <summary>As <see cref="AddEmbeddingGemma"/>, registered under <paramref name="serviceKey"/> (several models side by side).</summary>
    public static EmbeddingGeneratorBuilder<string, Embedding<float>> AddKeyedEmbeddingGemma(this IServiceCollection services,
        object? serviceKey, string modelPathOrId, Action<EmbeddingGemmaServiceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = Configure(modelPathOrId, configure);
        services.AddKeyedSingleton(serviceKey, (_, _) => LoadModel(options));
        return services.AddKeyedEmbeddingGenerator(serviceKey, sp => CreateGenerator(sp.GetRequiredKeyedService<EmbeddingGemmaModel>(serviceKey), options));
    }

    private static EmbeddingGemmaServiceOptions Configure(string modelPathOrId, Action<EmbeddingGemmaServiceOptions>? configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPathOrId);
        var options = new EmbeddingGemmaServiceOptions { Model = modelPathOrId };
        configure?.Invoke(options);
        if (string.IsNullOrWhiteSpace(options.Model))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "AddEmbeddingGemma: no model given (a folder, a .gguf, a Hugging Face id or an Ollama name).");
        }
        return options;
    }

    private static EmbeddingGemmaModel LoadModel(EmbeddingGemmaServiceOptions options)
    {
        var load = options.LoadOptions;
        if (load.HubResolver is null && (options.Hub is not null || options.DownloadProgress is not null))
        {
            load = load with { HubResolver = (model, ct) => ModelLocator.Resolve(model, options.Hub, options.DownloadProgress, ct) };
        }
        return EmbeddingGemmaModel.Load(options.Model, load);
    }

    private static EmbeddingGemmaGenerator CreateGenerator(EmbeddingGemmaModel model, EmbeddingGemmaServiceOptions options)
    {
        var isLocal = File.Exists(options.Model) || Directory.Exists(options.Model);
        return new EmbeddingGemmaGenerator(model, options.DefaultEncodeOptions, options.ModelId ?? (isLocal ? null : options.Model), ownsModel: false);
    }
}
