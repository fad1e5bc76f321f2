using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Evaluation.Learners;

/// <summary>
/// k-means (Lloyd's algorithm, squared Euclidean distance) with k-means++ seeding from a seeded <see cref="Random"/>;
/// stops when no assignment changes or after <c>maxIterations</c>. An emptied cluster is re-seeded with the point
/// farthest from its centre.
/// </summary>
public static class KMeans
{
    public static int[] Cluster(IReadOnlyList<float[]> x, int k, int seed, int maxIterations = 100)
    {
        int n = x.Count, d = x[0].Length;
        if (k < 1 || k > n)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"k-means needs 1 <= k <= n (k = {k}, n = {n}).");
        }
        var rng = new Random(seed);
        var centres = new float[k][];
        centres[0] = (float[])x[rng.Next(n)].Clone();
        var dist = new double[n];
        for (int i = 0; i < n; i++)
        {
            dist[i] = VectorOps.SquaredDistance(x[i], centres[0]);
        }
        for (int c = 1; c < k; c++)
        {
            double total = dist.Sum();
            int pick = 0;
            if (total > 0)
            {
                double r = rng.NextDouble() * total;
                for (pick = 0; pick < n - 1 && (r -= dist[pick]) > 0; pick++)
                {
                }
            }
            else
            {
                pick = rng.Next(n);
            }
            centres[c] = (float[])x[pick].Clone();
            for (int i = 0; i < n; i++)
            {
                dist[i] = Math.Min(dist[i], VectorOps.SquaredDistance(x[i], centres[c]));
            }
        }

        var assign = new int[n];
        Array.Fill(assign, -1);
        for (int it = 0; it < maxIterations; it++)
        {
            bool changed = false;
            for (int i = 0; i < n; i++)
            {
                int best = 0;
                float bestD = float.PositiveInfinity;
                for (int c = 0; c < k; c++)
                {
                    float dd = VectorOps.SquaredDistance(x[i], centres[c]);
                    if (dd < bestD)
                    {
                        bestD = dd;
                        best = c;
                    }
                }
                dist[i] = bestD;
                if (assign[i] != best)
                {
                    assign[i] = best;
                    changed = true;
                }
            }
            if (!changed)
            {
                break;
            }
            var counts = new int[k];
            for (int c = 0; c < k; c++)
            {
                Array.Clear(centres[c]);
            }
            for (int i = 0; i < n; i++)
            {
                counts[assign[i]]++;
                VectorOps.Axpy(1, x[i], centres[assign[i]]);
            }
            for (int c = 0; c < k; c++)
            {
                if (counts[c] == 0)
                {
                    int far = Array.IndexOf(dist, dist.Max());
                    centres[c] = (float[])x[far].Clone();
                    dist[far] = 0;
                    continue;
                }
                for (int q = 0; q < d; q++)
                {
                    centres[c][q] /= counts[c];
                }
            }
        }
        return assign;
    }
}
