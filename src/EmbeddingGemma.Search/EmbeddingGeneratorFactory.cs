using System.Globalization;
using EmbeddingGemma.Search.Index;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Search;

/// <summary>An embedding generator made from a model specification, with the chunking that suits it.</summary>
public sealed record ResolvedGenerator(IEmbeddingGenerator<string, Embedding<float>> Generator, string ModelSpec, Func<int, int, ChunkingOptions> Chunking) : IDisposable
{
    /// <summary>The model's fingerprint (see <see cref="EmbeddingGeneratorFactory.FingerprintOf"/>).</summary>
    public string? Fingerprint => EmbeddingGeneratorFactory.FingerprintOf(Generator);

    public void Dispose() => Generator.Dispose();
}

/// <summary>
/// Turns the CLI's <c>--model</c> value into a generator: <c>hash</c> / <c>hash:DIM</c> is the model-free
/// <see cref="HashingEmbeddingGenerator"/> (demos and tests); anything else is an EmbeddingGemma model
/// (folder, .gguf or hub id) loaded with <c>EmbeddingGemmaModel.Load</c>, chunked with its tokenizer.
/// </summary>
public static class EmbeddingGeneratorFactory
{
    public static ResolvedGenerator Create(string spec, EmbeddingGemma.Embeddings.ModelLoadOptions? loadOptions = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        if (spec == "hash" || spec.StartsWith("hash:", StringComparison.Ordinal))
        {
            int dim = 256;
            if (spec.Length > 5 && (!int.TryParse(spec.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out dim) || dim < 1 || dim > 65536))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--model {spec}: expected hash or hash:DIM with DIM in 1..65536.");
            }
            return new ResolvedGenerator(new HashingEmbeddingGenerator(dim), spec, (max, overlap) => new ChunkingOptions { MaxTokens = max, OverlapTokens = overlap });
        }
        return CreateModel(spec, loadOptions);
    }

    /// <summary>
    /// The fingerprint of a generator's model: <c>EmbeddingGemmaModel.Fingerprint</c> for an EmbeddingGemma generator,
    /// <see cref="HashingEmbeddingGenerator.Fingerprint"/> (fixed per dimension) for the hashing embedder, else null.
    /// </summary>
    public static string? FingerprintOf(IEmbeddingGenerator<string, Embedding<float>> generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        return generator switch
        {
            HashingEmbeddingGenerator h => h.Fingerprint,
            _ => generator.GetService<EmbeddingGemma.Embeddings.EmbeddingGemmaModel>()?.Fingerprint,
        };
    }

    private static ResolvedGenerator CreateModel(string spec, EmbeddingGemma.Embeddings.ModelLoadOptions? loadOptions)
    {
        var model = EmbeddingGemma.Embeddings.EmbeddingGemmaModel.Load(spec, loadOptions);
        var generator = new EmbeddingGemma.Embeddings.EmbeddingGemmaGenerator(model, ownsModel: true);
        var tokenizer = model.Tokenizer;
        return new ResolvedGenerator(generator, spec, (max, overlap) => tokenizer is null
            ? new ChunkingOptions { MaxTokens = max, OverlapTokens = overlap }
            : TokenizerChunking.For(tokenizer, max, overlap));
    }
}
