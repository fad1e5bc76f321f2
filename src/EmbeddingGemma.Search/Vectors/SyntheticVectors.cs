using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Search.Vectors;

/// <summary>
/// Deterministic synthetic unit vectors for tests and benchmarks: a Gaussian mixture whose per-dimension scale
/// decays as 1/sqrt(1 + d/decay), so that the leading dimensions carry most of the variance, as in
/// Matryoshka-trained embeddings (an assumption stated wherever these vectors are used; real embeddings are
/// measured separately). Not a model of any real embedding distribution.
/// </summary>
public static class SyntheticVectors
{
    /// <param name="count">Number of vectors.</param>
    /// <param name="dimension">Dimension of each vector.</param>
    /// <param name="clusters">Number of mixture components.</param>
    /// <param name="seed">Random seed (same seed, same vectors).</param>
    /// <param name="noise">Within-cluster spread relative to the spread of the cluster centres.</param>
    /// <param name="decay">Per-dimension scale 1/sqrt(1 + d/decay): smaller values concentrate variance in the leading dimensions.</param>
    public static VectorMatrix Generate(int count, int dimension, int clusters, int seed, double noise = 0.6, double decay = 32)
    {
        var rng = new Random(seed);
        var scale = new double[dimension];
        for (int d = 0; d < dimension; d++)
        {
            scale[d] = 1 / Math.Sqrt(1 + d / decay);
        }
        var centres = new double[clusters][];
        for (int c = 0; c < clusters; c++)
        {
            centres[c] = new double[dimension];
            for (int d = 0; d < dimension; d++)
            {
                centres[c][d] = Gaussian(rng) * scale[d];
            }
        }
        var data = new float[(long)count * dimension];
        var row = new float[dimension];
        for (int i = 0; i < count; i++)
        {
            var centre = centres[rng.Next(clusters)];
            for (int d = 0; d < dimension; d++)
            {
                row[d] = (float)(centre[d] + noise * scale[d] * Gaussian(rng));
            }
            VectorOps.L2Normalize(row);
            row.CopyTo(data.AsSpan(i * dimension, dimension));
        }
        return new VectorMatrix(data, dimension);
    }

    /// <summary>Queries drawn like the data (new points of the same mixture), one per row.</summary>
    public static VectorMatrix Queries(int count, int dimension, int clusters, int dataSeed, int querySeed, double noise = 0.6, double decay = 32)
    {
        // Same centres as Generate(dataSeed): replay its generator for the centres, then draw new points.
        var rng = new Random(dataSeed);
        var scale = new double[dimension];
        for (int d = 0; d < dimension; d++)
        {
            scale[d] = 1 / Math.Sqrt(1 + d / decay);
        }
        var centres = new double[clusters][];
        for (int c = 0; c < clusters; c++)
        {
            centres[c] = new double[dimension];
            for (int d = 0; d < dimension; d++)
            {
                centres[c][d] = Gaussian(rng) * scale[d];
            }
        }
        var qr = new Random(querySeed);
        var m = new VectorMatrix(dimension, count);
        var row = new float[dimension];
        for (int i = 0; i < count; i++)
        {
            var centre = centres[qr.Next(clusters)];
            for (int d = 0; d < dimension; d++)
            {
                row[d] = (float)(centre[d] + noise * scale[d] * Gaussian(qr));
            }
            VectorOps.L2Normalize(row);
            m.Add(row);
        }
        return m;
    }

    /// <summary>Fraction of the exact top-k rows that the approximate result found (recall@k), averaged by the caller.</summary>
    public static double Recall(IReadOnlyList<ScoredRow> exact, IReadOnlyList<ScoredRow> approximate)
    {
        if (exact.Count == 0)
        {
            return 1;
        }
        var set = exact.Select(e => e.Row).ToHashSet();
        return approximate.Count(a => set.Contains(a.Row)) / (double)exact.Count;
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
