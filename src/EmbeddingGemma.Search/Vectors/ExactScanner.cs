using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Search.Vectors;

/// <summary>
/// Exact top-k by inner product over every row of a <see cref="VectorMatrix"/> (cosine when rows and query are unit
/// vectors). The rows are split into one contiguous block per thread; each block keeps its own top-k and the blocks
/// are merged. One pass over the data, so the scan is bound by memory bandwidth on large collections.
/// </summary>
public static class ExactScanner
{
    /// <summary>Rows per parallel block below which the scan stays on one thread.</summary>
    private const int MinRowsPerThread = 4096;

    /// <param name="matrix">The stored vectors, one row each.</param>
    /// <param name="query">The query vector (same dimension as the rows).</param>
    /// <param name="k">How many best rows to return.</param>
    /// <param name="allowed">When given, only rows with allowed[row] = true are scored (deleted rows, metadata filters).</param>
    /// <param name="minScore">Rows scoring below it are dropped (the search threshold).</param>
    /// <param name="maxThreads">Threads to use; 0 = Environment.ProcessorCount.</param>
    public static ScoredRow[] Search(VectorMatrix matrix, ReadOnlySpan<float> query, int k, ReadOnlySpan<bool> allowed = default,
        float minScore = float.NegativeInfinity, int maxThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (query.Length != matrix.Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Query has {query.Length} dimensions; the index holds {matrix.Dimension}.");
        }
        if (k <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {k}.");
        }
        if (!allowed.IsEmpty && allowed.Length < matrix.Count)
        {
            throw new ArgumentException($"allowed has {allowed.Length} entries for {matrix.Count} rows.", nameof(allowed));
        }
        int n = matrix.Count;
        int threads = maxThreads > 0 ? maxThreads : Environment.ProcessorCount;
        threads = Math.Max(1, Math.Min(threads, n / MinRowsPerThread));
        if (threads == 1)
        {
            var top = new TopK(k);
            ScanBlock(matrix, query, 0, n, allowed, minScore, top);
            return top.ToSortedArray();
        }
        var q = query.ToArray();
        var allowedArray = allowed.IsEmpty ? null : allowed.ToArray();
        var partial = new TopK[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            long start = (long)n * t / threads, end = (long)n * (t + 1) / threads;
            var top = new TopK(k);
            ScanBlock(matrix, q, (int)start, (int)end, allowedArray, minScore, top);
            partial[t] = top;
        });
        var merged = new TopK(k);
        foreach (var p in partial)
        {
            merged.AddRange(p);
        }
        return merged.ToSortedArray();
    }

    private static void ScanBlock(VectorMatrix matrix, ReadOnlySpan<float> query, int start, int end, ReadOnlySpan<bool> allowed, float minScore, TopK top)
    {
        int dim = matrix.Dimension;
        var data = matrix.RawArray.AsSpan();
        bool filter = !allowed.IsEmpty;
        var kernels = KernelCatalog.Default; // looked up once per block, not per row
        for (int row = start; row < end; row++)
        {
            if (filter && !allowed[row])
            {
                continue;
            }
            float s = VectorOps.Dot(data.Slice(row * dim, dim), query, kernels);
            if (s >= minScore && s >= top.Threshold)
            {
                top.Add(row, s);
            }
        }
    }

    /// <summary>The reference: score every row with the scalar reference dot, sort all, take k. O(n log n); for tests.</summary>
    public static ScoredRow[] BruteForce(VectorMatrix matrix, ReadOnlySpan<float> query, int k, float minScore = float.NegativeInfinity)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var all = new List<ScoredRow>(matrix.Count);
        for (int row = 0; row < matrix.Count; row++)
        {
            float s = VectorOps.Dot(matrix.Row(row), query, KernelCatalog.Get(KernelVariant.Scalar));
            if (s >= minScore)
            {
                all.Add(new ScoredRow(row, s));
            }
        }
        all.Sort(static (a, b) => TopK.Worse(a, b) ? 1 : TopK.Worse(b, a) ? -1 : 0);
        return all.Take(k).ToArray();
    }
}
