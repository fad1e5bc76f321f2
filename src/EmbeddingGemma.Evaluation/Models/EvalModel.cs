using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Evaluation.Models;

/// <summary>
/// What is evaluated: an embedding generator (any <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>), or the
/// lexical BM25 baseline, which only applies to retrieval and reranking tasks (other task types are reported as
/// not applicable for it).
/// </summary>
public sealed class EvalModel
{
    private EvalModel(string name, IEmbeddingGenerator<string, Embedding<float>>? generator, Bm25Options? bm25)
    {
        Name = name;
        Generator = generator;
        Bm25 = bm25;
    }

    public string Name { get; }

    public IEmbeddingGenerator<string, Embedding<float>>? Generator { get; }

    /// <summary>Set for the BM25 baseline.</summary>
    public Bm25Options? Bm25 { get; }

    public bool IsLexical => Bm25 is not null;

    /// <summary>
    /// The model architecture (<c>embeddinggemma</c> or <c>embeddinggemma2</c>) when the generator wraps an
    /// <see cref="EmbeddingGemma.Embeddings.EmbeddingGemmaModel"/>; null for baselines and other generators.
    /// </summary>
    public string? Architecture => Generator?.GetService<EmbeddingGemma.Embeddings.EmbeddingGemmaModel>()?.Architecture;

    public static EvalModel FromGenerator(string name, IEmbeddingGenerator<string, Embedding<float>> generator) => new(name, generator, null);

    public static EvalModel Bm25Baseline(Bm25Options? options = null, string name = "bm25") => new(name, null, options ?? new Bm25Options());
}
