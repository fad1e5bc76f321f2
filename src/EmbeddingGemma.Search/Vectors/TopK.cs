namespace EmbeddingGemma.Search.Vectors;

/// <summary>One scored row: its index and its similarity (higher is better).</summary>
public readonly record struct ScoredRow(int Row, float Score);

/// <summary>
/// Keeps the k best (highest score) rows seen so far in a min-heap. Ties are broken by the lower row index so that
/// every search mode and the brute-force reference agree on order.
/// </summary>
public sealed class TopK
{
    private readonly ScoredRow[] _heap;

    public TopK(int k)
    {
        if (k <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {k}.");
        }
        _heap = new ScoredRow[k];
    }

    public int Count { get; private set; }
    public int Capacity => _heap.Length;

    /// <summary>The worst score kept, or -infinity while not full (a row must beat it to enter).</summary>
    public float Threshold => Count < _heap.Length ? float.NegativeInfinity : _heap[0].Score;

    /// <summary>True when <paramref name="a"/> ranks below <paramref name="b"/>.</summary>
    public static bool Worse(ScoredRow a, ScoredRow b) => a.Score < b.Score || (a.Score == b.Score && a.Row > b.Row);

    public void Add(int row, float score)
    {
        var item = new ScoredRow(row, score);
        if (Count < _heap.Length)
        {
            int i = Count++;
            _heap[i] = item;
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (!Worse(_heap[i], _heap[parent]))
                {
                    break;
                }
                (_heap[i], _heap[parent]) = (_heap[parent], _heap[i]);
                i = parent;
            }
            return;
        }
        if (!Worse(_heap[0], item))
        {
            return;
        }
        _heap[0] = item;
        int j = 0;
        while (true)
        {
            int l = 2 * j + 1, r = l + 1, m = j;
            if (l < Count && Worse(_heap[l], _heap[m]))
            {
                m = l;
            }
            if (r < Count && Worse(_heap[r], _heap[m]))
            {
                m = r;
            }
            if (m == j)
            {
                break;
            }
            (_heap[j], _heap[m]) = (_heap[m], _heap[j]);
            j = m;
        }
    }

    public void AddRange(TopK other)
    {
        for (int i = 0; i < other.Count; i++)
        {
            Add(other._heap[i].Row, other._heap[i].Score);
        }
    }

    /// <summary>The kept rows, best first.</summary>
    public ScoredRow[] ToSortedArray()
    {
        var result = _heap.AsSpan(0, Count).ToArray();
        Array.Sort(result, static (a, b) => Worse(a, b) ? 1 : Worse(b, a) ? -1 : 0);
        return result;
    }
}
