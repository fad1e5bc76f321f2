using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Search.Clustering;

/// <summary>Cluster quality: silhouette (cosine distance), and against reference labels V-measure and adjusted Rand index.</summary>
public static class ClusterMetrics
{
    /// <summary>
    /// Mean silhouette (Rousseeuw 1987) with distance 1 - cos: for each point (a = mean distance to its own cluster,
    /// b = smallest mean distance to another cluster) s = (b - a) / max(a, b); points alone in their cluster count 0.
    /// O(n^2 d).
    /// </summary>
    public static double Silhouette(IReadOnlyList<float[]> vectors, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(labels);
        int n = vectors.Count;
        if (n != labels.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{n} vectors but {labels.Count} labels.");
        }
        var unit = vectors.Select(v => { var u = (float[])v.Clone(); VectorOps.L2Normalize(u); return u; }).ToArray();
        int k = labels.Max() + 1;
        var sizes = new int[k];
        foreach (var l in labels)
        {
            sizes[l]++;
        }
        if (sizes.Count(s => s > 0) < 2)
        {
            return 0;
        }
        double total = 0;
        var sums = new double[k];
        for (int i = 0; i < n; i++)
        {
            Array.Clear(sums);
            for (int j = 0; j < n; j++)
            {
                if (j != i)
                {
                    sums[labels[j]] += 1 - VectorOps.Dot(unit[i], unit[j]);
                }
            }
            int own = labels[i];
            if (sizes[own] <= 1)
            {
                continue;
            }
            double a = sums[own] / (sizes[own] - 1);
            double b = double.PositiveInfinity;
            for (int c = 0; c < k; c++)
            {
                if (c != own && sizes[c] > 0)
                {
                    b = Math.Min(b, sums[c] / sizes[c]);
                }
            }
            double m = Math.Max(a, b);
            total += m > 0 ? (b - a) / m : 0;
        }
        return total / n;
    }

    /// <summary>Adjusted Rand index (Hubert and Arabie 1985): 1 = identical partitions, about 0 = chance.</summary>
    public static double AdjustedRandIndex(IReadOnlyList<int> truth, IReadOnlyList<int> predicted)
    {
        var (table, rows, cols, n) = Contingency(truth, predicted);
        static double C2(double x) => x * (x - 1) / 2;
        double sumCells = 0;
        foreach (var v in table.Values)
        {
            sumCells += C2(v);
        }
        double sumRows = rows.Values.Sum(v => C2(v));
        double sumCols = cols.Values.Sum(v => C2(v));
        double expected = sumRows * sumCols / C2(n);
        double max = (sumRows + sumCols) / 2;
        return max - expected == 0 ? 1.0 : (sumCells - expected) / (max - expected);
    }

    /// <summary>Homogeneity, completeness and their harmonic mean, the V-measure (Rosenberg and Hirschberg 2007).</summary>
    public static (double Homogeneity, double Completeness, double VMeasure) VMeasure(IReadOnlyList<int> truth, IReadOnlyList<int> predicted)
    {
        var (table, rows, cols, n) = Contingency(truth, predicted);
        double hC = -rows.Values.Sum(v => v / (double)n * Math.Log(v / (double)n));
        double hK = -cols.Values.Sum(v => v / (double)n * Math.Log(v / (double)n));
        double hCgivenK = 0, hKgivenC = 0;
        foreach (var ((c, k), v) in table)
        {
            hCgivenK -= v / (double)n * Math.Log(v / (double)cols[k]);
            hKgivenC -= v / (double)n * Math.Log(v / (double)rows[c]);
        }
        double h = hC == 0 ? 1 : 1 - hCgivenK / hC;
        double comp = hK == 0 ? 1 : 1 - hKgivenC / hK;
        double vm = h + comp == 0 ? 0 : 2 * h * comp / (h + comp);
        return (h, comp, vm);
    }

    private static (Dictionary<(int, int), int> Table, Dictionary<int, int> Rows, Dictionary<int, int> Cols, int N) Contingency(IReadOnlyList<int> truth, IReadOnlyList<int> predicted)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(predicted);
        if (truth.Count != predicted.Count || truth.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Label lists must be non-empty and of equal length ({truth.Count} and {predicted.Count}).");
        }
        var table = new Dictionary<(int, int), int>();
        var rows = new Dictionary<int, int>();
        var cols = new Dictionary<int, int>();
        for (int i = 0; i < truth.Count; i++)
        {
            table[(truth[i], predicted[i])] = table.GetValueOrDefault((truth[i], predicted[i])) + 1;
            rows[truth[i]] = rows.GetValueOrDefault(truth[i]) + 1;
            cols[predicted[i]] = cols.GetValueOrDefault(predicted[i]) + 1;
        }
        return (table, rows, cols, truth.Count);
    }
}
