using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search.Vectors;

namespace EmbeddingGemma.Search.Ann;

/// <summary>HNSW parameters (Malkov and Yashunin 2016, arXiv:1603.09320; names as in hnswlib).</summary>
public sealed record HnswOptions
{
    /// <summary>Links per node on upper layers; layer 0 keeps up to 2*M.</summary>
    public int M { get; init; } = 16;
    /// <summary>Beam width while inserting.</summary>
    public int EfConstruction { get; init; } = 200;
    /// <summary>Default beam width while searching (raised to k when smaller).</summary>
    public int EfSearch { get; init; } = 64;
    /// <summary>Seed for the level of each node (levels are a function of seed and row, so builds are reproducible in structure up to thread order).</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Threads for <see cref="HnswIndex.Build"/>; 0 = Environment.ProcessorCount.</summary>
    public int MaxThreads { get; init; }
}

/// <summary>
/// Hierarchical navigable small world graph over the rows of a <see cref="VectorMatrix"/>, scored by inner product
/// (cosine on unit vectors). Our own implementation: greedy descent through the upper layers, beam search (ef) on
/// layer 0, neighbour selection by the paper's heuristic (algorithm 4). Insertion is thread-safe: each node's link
/// lists are immutable arrays replaced under that node's lock, so readers never lock.
/// </summary>
public sealed class HnswIndex
{
    private readonly VectorMatrix _vectors;
    private readonly object _entryLock = new();
    private int[][][] _links = [];
    private object[] _locks = [];
    private int _entry = -1;
    private int _maxLevel = -1;
    private readonly double _levelMult;
    private readonly ThreadLocal<VisitedSet> _visited = new(() => new VisitedSet());

    public HnswIndex(VectorMatrix vectors, HnswOptions? options = null)
    {
        _vectors = vectors ?? throw new ArgumentNullException(nameof(vectors));
        Options = options ?? new HnswOptions();
        if (Options.M < 2 || Options.EfConstruction < 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"HNSW needs M >= 2 and efConstruction >= 1 (got M={Options.M}, efConstruction={Options.EfConstruction}).");
        }
        _levelMult = 1 / Math.Log(Options.M);
    }

    public HnswOptions Options { get; }

    /// <summary>Rows inserted into the graph so far.</summary>
    public int Count { get; private set; }

    /// <summary>Builds (or extends) the graph with every row of the matrix not yet inserted, in parallel.</summary>
    public static HnswIndex Build(VectorMatrix vectors, HnswOptions? options = null)
    {
        var index = new HnswIndex(vectors, options);
        index.AddNewRows();
        return index;
    }

    /// <summary>Inserts the rows appended to the matrix since the last call.</summary>
    public void AddNewRows()
    {
        int start = Count, end = _vectors.Count;
        if (end <= start)
        {
            return;
        }
        Array.Resize(ref _links, end);
        Array.Resize(ref _locks, end);
        for (int i = start; i < end; i++)
        {
            int level = LevelOf(i);
            var lists = new int[level + 1][];
            for (int l = 0; l <= level; l++)
            {
                lists[l] = [];
            }
            _links[i] = lists;
            _locks[i] = new object();
        }
        int first = start;
        if (_entry < 0)
        {
            Insert(start);
            first++;
        }
        int threads = Options.MaxThreads > 0 ? Options.MaxThreads : Environment.ProcessorCount;
        if (end - first < 1000)
        {
            threads = 1;
        }
        Parallel.For(first, end, new ParallelOptions { MaxDegreeOfParallelism = threads }, Insert);
        Count = end;
    }

    private int LevelOf(int row)
    {
        // A per-row uniform number from (seed, row) with splitmix64, so levels do not depend on thread order.
        ulong z = (ulong)(uint)Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)row + 1;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        double u = ((z >> 11) + 0.5) / (1UL << 53);
        return Math.Min((int)(-Math.Log(u) * _levelMult), 16);
    }

    private float Sim(ReadOnlySpan<float> q, int row) => VectorOps.Dot(_vectors.Row(row), q);

    private void Insert(int node)
    {
        int level = _links[node].Length - 1;
        int entry, maxLevel;
        lock (_entryLock)
        {
            if (_entry < 0)
            {
                _entry = node;
                _maxLevel = level;
                return;
            }
            entry = _entry;
            maxLevel = _maxLevel;
        }
        var q = _vectors.Row(node);
        int cur = entry;
        float curSim = Sim(q, cur);
        for (int l = maxLevel; l > level; l--)
        {
            (cur, curSim) = Greedy(q, cur, curSim, l);
        }
        for (int l = Math.Min(level, maxLevel); l >= 0; l--)
        {
            var found = SearchLayer(q, cur, curSim, Options.EfConstruction, l, default);
            var selected = SelectNeighbors(q, found, Options.M);
            lock (_locks[node])
            {
                _links[node][l] = selected;
            }
            int maxLinks = l == 0 ? 2 * Options.M : Options.M;
            foreach (int e in selected)
            {
                lock (_locks[e])
                {
                    var old = _links[e][l];
                    if (old.Length < maxLinks)
                    {
                        var grown = new int[old.Length + 1];
                        old.CopyTo(grown, 0);
                        grown[^1] = node;
                        _links[e][l] = grown;
                    }
                    else
                    {
                        var eq = _vectors.Row(e);
                        var pool = new List<ScoredRow>(old.Length + 1) { new(node, Sim(eq, node)) };
                        foreach (int o in old)
                        {
                            pool.Add(new ScoredRow(o, Sim(eq, o)));
                        }
                        pool.Sort(static (a, b) => b.Score.CompareTo(a.Score));
                        _links[e][l] = SelectNeighbors(eq, pool, maxLinks);
                    }
                }
            }
            if (found.Count > 0)
            {
                cur = found[0].Row;
                curSim = found[0].Score;
            }
        }
        if (level > maxLevel)
        {
            lock (_entryLock)
            {
                if (level > _maxLevel)
                {
                    _maxLevel = level;
                    _entry = node;
                }
            }
        }
    }

    private (int Node, float Sim) Greedy(ReadOnlySpan<float> q, int cur, float curSim, int level)
    {
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (int n in _links[cur][level])
            {
                float s = Sim(q, n);
                if (s > curSim)
                {
                    curSim = s;
                    cur = n;
                    changed = true;
                }
            }
        }
        return (cur, curSim);
    }

    /// <summary>The paper's heuristic: keep a candidate only if it is closer to the query than to every neighbour already kept.</summary>
    private int[] SelectNeighbors(ReadOnlySpan<float> q, List<ScoredRow> sortedBestFirst, int m)
    {
        var kept = new List<int>(m);
        foreach (var c in sortedBestFirst)
        {
            if (kept.Count >= m)
            {
                break;
            }
            var cv = _vectors.Row(c.Row);
            bool good = true;
            foreach (int r in kept)
            {
                if (VectorOps.Dot(cv, _vectors.Row(r)) > c.Score)
                {
                    good = false;
                    break;
                }
            }
            if (good)
            {
                kept.Add(c.Row);
            }
        }
        return kept.ToArray();
    }

    /// <summary>
    /// Beam search on one layer; returns up to ef rows, best first. Rows not allowed are traversed but not returned
    /// (like hnswlib's filter), so a filter does not disconnect the graph.
    /// </summary>
    private List<ScoredRow> SearchLayer(ReadOnlySpan<float> q, int entry, float entrySim, int ef, int level, ReadOnlySpan<bool> allowed)
    {
        var visited = _visited.Value!;
        visited.Reset(_links.Length);
        var candidates = new PriorityQueue<int, float>(); // best first: priority = -sim
        var results = new PriorityQueue<int, float>();    // worst first: priority = sim
        visited.Visit(entry);
        candidates.Enqueue(entry, -entrySim);
        if (allowed.IsEmpty || allowed[entry])
        {
            results.Enqueue(entry, entrySim);
        }
        float lowerBound = results.Count > 0 ? entrySim : float.NegativeInfinity;
        while (candidates.TryDequeue(out int c, out float negSim))
        {
            if (-negSim < lowerBound && results.Count >= ef)
            {
                break;
            }
            foreach (int n in _links[c][level])
            {
                if (!visited.Visit(n))
                {
                    continue;
                }
                float s = Sim(q, n);
                if (results.Count < ef || s > lowerBound)
                {
                    candidates.Enqueue(n, -s);
                    if (allowed.IsEmpty || allowed[n])
                    {
                        results.Enqueue(n, s);
                        if (results.Count > ef)
                        {
                            results.Dequeue();
                        }
                        results.TryPeek(out _, out lowerBound);
                    }
                }
            }
        }
        var list = new List<ScoredRow>(results.Count);
        while (results.TryDequeue(out int r, out float s))
        {
            list.Add(new ScoredRow(r, s));
        }
        list.Reverse();
        return list;
    }

    /// <summary>Approximate top k by inner product. <paramref name="ef"/> (default Options.EfSearch) trades speed for recall.</summary>
    public ScoredRow[] Search(ReadOnlySpan<float> query, int k, int ef = 0, ReadOnlySpan<bool> allowed = default, float minScore = float.NegativeInfinity)
    {
        if (query.Length != _vectors.Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Query has {query.Length} dimensions; the index holds {_vectors.Dimension}.");
        }
        if (k <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {k}.");
        }
        int entry, maxLevel;
        lock (_entryLock)
        {
            entry = _entry;
            maxLevel = _maxLevel;
        }
        if (entry < 0)
        {
            return [];
        }
        int cur = entry;
        float curSim = Sim(query, cur);
        for (int l = maxLevel; l > 0; l--)
        {
            (cur, curSim) = Greedy(query, cur, curSim, l);
        }
        var found = SearchLayer(query, cur, curSim, Math.Max(ef > 0 ? ef : Options.EfSearch, k), 0, allowed);
        var top = new TopK(k);
        foreach (var r in found)
        {
            if (r.Score >= minScore)
            {
                top.Add(r.Row, r.Score);
            }
        }
        return top.ToSortedArray();
    }

    /// <summary>Writes the graph (not the vectors) to a stream.</summary>
    public void Save(Stream stream)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(0x57534E48); // "HNSW"
        w.Write(1);
        w.Write(Options.M);
        w.Write(Options.EfConstruction);
        w.Write(Count);
        w.Write(_entry);
        w.Write(_maxLevel);
        for (int i = 0; i < Count; i++)
        {
            w.Write(_links[i].Length);
            foreach (var list in _links[i])
            {
                w.Write(list.Length);
                foreach (int n in list)
                {
                    w.Write(n);
                }
            }
        }
    }

    /// <summary>Reads a graph written by <see cref="Save"/> for the same vectors (first Count rows).</summary>
    public static HnswIndex Load(Stream stream, VectorMatrix vectors, HnswOptions? options = null)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        if (r.ReadInt32() != 0x57534E48 || r.ReadInt32() != 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "Not an HNSW graph (bad magic or version).");
        }
        int m = r.ReadInt32(), efc = r.ReadInt32();
        var index = new HnswIndex(vectors, (options ?? new HnswOptions()) with { M = m, EfConstruction = efc });
        int count = r.ReadInt32();
        if (count > vectors.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"HNSW graph has {count} nodes but only {vectors.Count} vectors exist.");
        }
        index._entry = r.ReadInt32();
        index._maxLevel = r.ReadInt32();
        index._links = new int[count][][];
        index._locks = new object[count];
        for (int i = 0; i < count; i++)
        {
            int levels = r.ReadInt32();
            if (levels < 1 || levels > 17)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"HNSW node {i} has {levels} levels.");
            }
            index._links[i] = new int[levels][];
            for (int l = 0; l < levels; l++)
            {
                int len = r.ReadInt32();
                if (len < 0 || len > 2 * m)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"HNSW node {i} level {l} has {len} links.");
                }
                var list = new int[len];
                for (int j = 0; j < len; j++)
                {
                    list[j] = r.ReadInt32();
                    if ((uint)list[j] >= (uint)count)
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"HNSW node {i} links to {list[j]}, outside 0..{count - 1}.");
                    }
                }
                index._links[i][l] = list;
            }
            index._locks[i] = new object();
        }
        index.Count = count;
        return index;
    }

    private sealed class VisitedSet
    {
        private int[] _marks = [];
        private int _generation;

        public void Reset(int size)
        {
            if (_marks.Length < size)
            {
                _marks = new int[Math.Max(size, _marks.Length * 2)];
                _generation = 0;
            }
            _generation++;
            if (_generation == int.MaxValue)
            {
                Array.Clear(_marks);
                _generation = 1;
            }
        }

        /// <summary>Marks the row; false when it was already marked in this generation.</summary>
        public bool Visit(int row)
        {
            if (_marks[row] == _generation)
            {
                return false;
            }
            _marks[row] = _generation;
            return true;
        }
    }
}
