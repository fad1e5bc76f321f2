using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Search.Vectors;

/// <summary>
/// Matryoshka funnel: EmbeddingGemma's vectors are trained so that a prefix (768 -> 512/256/128), renormalised, is
/// itself a usable embedding. The funnel scans the short prefixes of every row (a fraction of the bytes), keeps the
/// best <c>candidates</c>, and reranks those with the full vectors. Recall against exact depends on the data and on
/// the candidate count; it is measured, not assumed (tests and bench/SearchBench).
/// </summary>
public sealed class MatryoshkaFunnel
{
    private readonly VectorMatrix _full;

    private MatryoshkaFunnel(VectorMatrix full, VectorMatrix prefix)
    {
        _full = full;
        Prefix = prefix;
    }

    /// <summary>The renormalised prefix rows.</summary>
    public VectorMatrix Prefix { get; }

    public int PrefixDimension => Prefix.Dimension;

    /// <summary>Builds the prefix matrix for every row of <paramref name="full"/> (rows added later: call <see cref="Append"/>).</summary>
    public static MatryoshkaFunnel Build(VectorMatrix full, int prefixDimension)
    {
        ArgumentNullException.ThrowIfNull(full);
        if (prefixDimension <= 0 || prefixDimension > full.Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Funnel prefix dimension must be in 1..{full.Dimension}, got {prefixDimension}.");
        }
        var prefix = new VectorMatrix(prefixDimension, Math.Max(full.Count, 16));
        var funnel = new MatryoshkaFunnel(full, prefix);
        funnel.Append();
        return funnel;
    }

    /// <summary>Adds prefixes for the rows appended to the full matrix since the last call.</summary>
    public void Append()
    {
        Span<float> tmp = stackalloc float[Prefix.Dimension];
        for (int row = Prefix.Count; row < _full.Count; row++)
        {
            _full.Row(row)[..Prefix.Dimension].CopyTo(tmp);
            VectorOps.L2Normalize(tmp);
            Prefix.Add(tmp);
        }
    }

    /// <summary>Top k by full-size inner product among the best <paramref name="candidates"/> by prefix similarity.</summary>
    public ScoredRow[] Search(ReadOnlySpan<float> query, int k, int candidates, ReadOnlySpan<bool> allowed = default,
        float minScore = float.NegativeInfinity, int maxThreads = 0)
    {
        if (query.Length != _full.Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Query has {query.Length} dimensions; the index holds {_full.Dimension}.");
        }
        if (k <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {k}.");
        }
        Append();
        Span<float> qp = stackalloc float[Prefix.Dimension];
        query[..Prefix.Dimension].CopyTo(qp);
        VectorOps.L2Normalize(qp);
        var coarse = ExactScanner.Search(Prefix, qp, Math.Max(k, candidates), allowed, float.NegativeInfinity, maxThreads);
        var top = new TopK(k);
        foreach (var c in coarse)
        {
            float s = VectorOps.Dot(_full.Row(c.Row), query);
            if (s >= minScore)
            {
                top.Add(c.Row, s);
            }
        }
        return top.ToSortedArray();
    }
}
