using System.Globalization;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Embeddings;

/// <summary>
/// Microsoft.Extensions.AI embedding generator over an <see cref="EmbeddingGemmaModel"/>.
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> is the Matryoshka size; <c>AdditionalProperties</c> keys
/// <c>prompt_name</c>, <c>prompt</c>, <c>task</c>, <c>title</c>, <c>normalize</c>, <c>truncate</c> map onto
/// <see cref="EncodeOptions"/>. Usage carries the token counts. <see cref="EmbeddingGenerationOptions.ModelId"/> may be
/// null or this generator's <see cref="ModelId"/> (case-insensitive); another model id is refused with
/// <see cref="ErrorKind.InvalidArgument"/> (one generator serves one model; nothing is silently substituted). A
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> outside 1..model dimensions is refused the same way.
/// </summary>
public sealed class EmbeddingGemmaGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly EmbeddingGemmaModel _model;
    private readonly bool _ownsModel;
    private readonly EncodeOptions _defaults;
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>Wraps a model; <paramref name="ownsModel"/> disposes it with the generator.</summary>
    public EmbeddingGemmaGenerator(EmbeddingGemmaModel model, EncodeOptions? defaults = null, string? modelId = null, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _ownsModel = ownsModel;
        _defaults = defaults ?? new EncodeOptions();
        ModelId = modelId ?? Path.GetFileName(model.Source.TrimEnd('/', '\\'));
        _metadata = new EmbeddingGeneratorMetadata("embeddinggemma.net", null, ModelId, model.Dimensions);
    }

    /// <summary>The model id reported in metadata and on each embedding.</summary>
    public string ModelId { get; }

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values.ToList();
        var encode = ToEncodeOptions(options);
        return Task.Run(() =>
        {
            var results = _model.EncodeDetailed(texts, encode, null, cancellationToken);
            var now = DateTimeOffset.UtcNow;
            var list = new GeneratedEmbeddings<Embedding<float>>(results.Select(r => new Embedding<float>(r.Vector) { ModelId = ModelId, CreatedAt = now }));
            long tokens = results.Sum(r => (long)r.TokenCount);
            list.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
            if (results.Any(r => r.Truncated))
            {
                list.AdditionalProperties = new AdditionalPropertiesDictionary { ["truncated"] = results.Select(r => r.Truncated).ToArray() };
            }
            return list;
        }, cancellationToken);
    }

    /// <summary>Maps generator options onto encode options (defaults from the constructor).</summary>
    public EncodeOptions ToEncodeOptions(EmbeddingGenerationOptions? options)
    {
        var o = _defaults;
        if (options is null)
        {
            return o;
        }
        if (options.ModelId is { } requested && !string.Equals(requested, ModelId, StringComparison.OrdinalIgnoreCase))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"EmbeddingGenerationOptions.ModelId is '{requested}', but this generator serves model '{ModelId}'. Leave ModelId null or use '{ModelId}'.");
        }
        if (options.Dimensions is { } d)
        {
            o = o with { Dimensions = d };
        }
        if (options.AdditionalProperties is { } p)
        {
            if (Get(p, "prompt_name") is { } pn) o = o with { PromptName = pn };
            if (Get(p, "prompt") is { } pr) o = o with { Prompt = pr };
            if (Get(p, "task") is { } t) o = o with { Task = t };
            if (Get(p, "title") is { } ti) o = o with { Title = ti };
            if (Get(p, "normalize") is { } n) o = o with { Normalize = ParseBool("normalize", n) };
            if (Get(p, "truncate") is { } tr) o = o with { Truncate = ParseBool("truncate", tr) };
        }
        return o;
    }

    private static string? Get(AdditionalPropertiesDictionary p, string key) =>
        p.TryGetValue(key, out var v) && v is not null ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;

    private static bool ParseBool(string key, string value) => bool.TryParse(value, out var b) ? b
        : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"AdditionalProperties['{key}'] must be true or false, got '{value}'.");

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }
        if (serviceType == typeof(EmbeddingGeneratorMetadata))
        {
            return _metadata;
        }
        if (serviceType.IsInstanceOfType(_model))
        {
            return _model;
        }
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsModel)
        {
            _model.Dispose();
        }
    }
}
