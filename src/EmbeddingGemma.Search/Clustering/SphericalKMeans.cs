using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Search.Clustering;

/// <summary>The outcome of <see cref="SphericalKMeans.Fit"/>.</summary>
public sealed record KMeansResult(int[] Labels, float[][] Centroids, double Objective, int Iterations);

/// <summary>
/// Spherical k-means (Dhillon and Modha 2001): unit vectors, cosine similarity, centroids renormalised to unit
/// length. Seeded by k-means++ (Arthur and Vassilvitskii 2007) on the cosine distance 1 - cos; several seeded
/// restarts, the best objective (sum of cosines to the assigned centroid) wins. Same seed, same result.
/// </summary>
public static class SphericalKMeans
{
    public static KMeansResult Fit(IReadOnlyList<float[]> vectors, int k, int seed = 42, int restarts = 4, int maxIterations = 100)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "k-means needs at least one vector.");
        }
        if (k < 1 || k > vectors.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"k must be in 1..{vectors.Count} (the number of texts), got {k}.");
        }
        int dim = vectors[0].Length;
        var unit = new float[vectors.Count][];
        for (int i = 0; i < vectors.Count; i++)
        {
            if (vectors[i].Length != dim)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vector {i} has {vectors[i].Length} dimensions, vector 0 has {dim}.");
            }
            unit[i] = (float[])vectors[i].Clone();
            VectorOps.L2Normalize(unit[i]);
        }
        KMeansResult? best = null;
        for (int r = 0; r < Math.Max(1, restarts); r++)
        {
            var result = FitOnce(unit, k, new Random(unchecked(seed * 7919 + r)), maxIterations);
            if (best is null || result.Objective > best.Objective + 1e-9)
            {
                best = result;
            }
        }
        return best!;
    }

    private static KMeansResult FitOnce(float[][] x, int k, Random rng, int maxIterations)
    {
        int n = x.Length, dim = x[0].Length;
        var centroids = PlusPlus(x, k, rng);
        var labels = new int[n];
        Array.Fill(labels, -1);
        double objective = 0;
        int iter = 0;
        for (; iter < maxIterations; iter++)
        {
            bool changed = false;
            objective = 0;
            for (int i = 0; i < n; i++)
            {
                int bestC = 0;
                float bestS = float.NegativeInfinity;
                for (int c = 0; c < k; c++)
                {
                    float s = VectorOps.Dot(x[i], centroids[c]);
                    if (s > bestS)
                    {
                        bestS = s;
                        bestC = c;
                    }
                }
                objective += bestS;
                if (labels[i] != bestC)
                {
                    labels[i] = bestC;
                    changed = true;
                }
            }
            if (!changed)
            {
                break;
            }
            var sums = new double[k, dim];
            var counts = new int[k];
            for (int i = 0; i < n; i++)
            {
                counts[labels[i]]++;
                for (int d = 0; d < dim; d++)
                {
                    sums[labels[i], d] += x[i][d];
                }
            }
            for (int c = 0; c < k; c++)
            {
                if (counts[c] == 0)
                {
                    // An empty cluster takes the point farthest from its centroid.
                    int far = 0;
                    float farS = float.PositiveInfinity;
                    for (int i = 0; i < n; i++)
                    {
                        float s = VectorOps.Dot(x[i], centroids[labels[i]]);
                        if (s < farS)
                        {
                            farS = s;
                            far = i;
                        }
                    }
                    centroids[c] = (float[])x[far].Clone();
                    continue;
                }
                for (int d = 0; d < dim; d++)
                {
                    centroids[c][d] = (float)sums[c, d];
                }
                VectorOps.L2Normalize(centroids[c]);
            }
        }
        return new KMeansResult(labels, centroids, objective, iter + 1);
    }

    /// <summary>k-means++: the first centre uniformly, each next one with probability proportional to D(x)^2, D = 1 - cos.</summary>
    private static float[][] PlusPlus(float[][] x, int k, Random rng)
    {
        int n = x.Length;
        var centroids = new float[k][];
        centroids[0] = (float[])x[rng.Next(n)].Clone();
        var d2 = new double[n];
        for (int i = 0; i < n; i++)
        {
            double d = Math.Max(0, 1 - VectorOps.Dot(x[i], centroids[0]));
            d2[i] = d * d;
        }
        for (int c = 1; c < k; c++)
        {
            double total = d2.Sum();
            int pick;
            if (total <= 0)
            {
                pick = rng.Next(n);
            }
            else
            {
                double u = rng.NextDouble() * total;
                pick = n - 1;
                for (int i = 0; i < n; i++)
                {
                    u -= d2[i];
                    if (u <= 0)
                    {
                        pick = i;
                        break;
                    }
                }
            }
            centroids[c] = (float[])x[pick].Clone();
            for (int i = 0; i < n; i++)
            {
                double d = Math.Max(0, 1 - VectorOps.Dot(x[i], centroids[c]));
                d2[i] = Math.Min(d2[i], d * d);
            }
        }
        return centroids;
    }
}
