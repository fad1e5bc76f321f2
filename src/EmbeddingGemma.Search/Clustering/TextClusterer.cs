using EmbeddingGemma.Numerics;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Search.Clustering;

/// <summary>The result of <see cref="TextClusterer.ClusterAsync"/>.</summary>
public sealed record TextClusteringResult(int[] Labels, double[][] Points2D, double Silhouette, KMeansResult KMeans, PcaResult Pca, float[][] Embeddings);

/// <summary>
/// The article's <c>TextClusterer</c>: embed texts with the clustering prompt (prompt_name "Clustering":
/// <c>task: clustering | query: </c>), spherical k-means (k-means++, seeded), PCA to 2-D and the silhouette.
/// </summary>
public sealed class TextClusterer
{
    private readonly IEmbeddingGenerator<string, Embedding<float>> _generator;

    public TextClusterer(IEmbeddingGenerator<string, Embedding<float>> generator, int clusters = 3, int seed = 42)
    {
        _generator = generator ?? throw new ArgumentNullException(nameof(generator));
        Clusters = clusters;
        Seed = seed;
    }

    public int Clusters { get; }
    public int Seed { get; }
    public string PromptName { get; init; } = "Clustering";

    public async Task<TextClusteringResult> ClusterAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count < 2)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Clustering needs at least 2 texts, got {texts.Count}.");
        }
        for (int i = 0; i < texts.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(texts[i]))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Text {i} is empty.");
            }
        }
        var options = new EmbeddingGenerationOptions { AdditionalProperties = new() { ["prompt_name"] = PromptName } };
        var generated = await _generator.GenerateAsync(texts, options, cancellationToken).ConfigureAwait(false);
        var vectors = generated.Select(e => { var v = e.Vector.ToArray(); VectorOps.L2Normalize(v); return v; }).ToArray();
        return Cluster(vectors, Clusters, Seed);
    }

    /// <summary>Clusters vectors that are already embedded.</summary>
    public static TextClusteringResult Cluster(float[][] vectors, int k, int seed = 42)
    {
        var km = SphericalKMeans.Fit(vectors, k, seed);
        var pca = Pca.Fit(vectors, Math.Min(2, Math.Min(vectors.Length, vectors[0].Length)));
        var points = pca.Projected.Select(p => p.Length == 2 ? p : [p[0], 0]).ToArray();
        double sil = ClusterMetrics.Silhouette(vectors, km.Labels);
        return new TextClusteringResult(km.Labels, points, sil, km, pca, vectors);
    }
}
