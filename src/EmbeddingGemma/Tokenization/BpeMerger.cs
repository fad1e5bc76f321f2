namespace EmbeddingGemma.Tokenization;

/// <summary>
/// The BPE merge loop over one word, as Hugging Face tokenizers' <c>Word::merge_all</c> does it: a min-heap of
/// candidate merges keyed by (rank, position) over a doubly linked list of symbols; a popped entry is used only
/// if its pair still stands. O(n log n) in the word's length, whatever the text (no quadratic rescans).
/// </summary>
internal sealed class BpeMerger
{
    private int[] _id = new int[64];
    private int[] _prev = new int[64];
    private int[] _next = new int[64];
    private int[] _start = new int[64];
    private int[] _end = new int[64];
    private long[] _heap = new long[64];
    private int _count;
    private int _heapCount;

    /// <summary>Number of heap pops in the last <see cref="Merge"/> (for the linear-time test).</summary>
    public long Operations { get; private set; }

    public int Count => _count;

    public void Reset()
    {
        _count = 0;
    }

    public int LastId => _id[_count - 1];

    public void ExtendLast(int end) => _end[_count - 1] = end;

    public void Add(int id, int start, int end)
    {
        if (_count == _id.Length)
        {
            var n = _id.Length * 2;
            Array.Resize(ref _id, n);
            Array.Resize(ref _prev, n);
            Array.Resize(ref _next, n);
            Array.Resize(ref _start, n);
            Array.Resize(ref _end, n);
        }
        _id[_count] = id;
        _start[_count] = start;
        _end[_count] = end;
        _count++;
    }

    /// <summary>Applies every merge in rank order, lowest rank (then leftmost) first.</summary>
    /// <param name="merges">(left id, right id) packed as left &lt;&lt; 32 | right, to rank &lt;&lt; 32 | merged id.</param>
    public void Merge(MergeTable merges)
    {
        var n = _count;
        var ops = 0L;
        if (n < 2)
        {
            Operations = 0;
            return;
        }
        for (var i = 0; i < n; i++)
        {
            _prev[i] = i - 1;
            _next[i] = i + 1 < n ? i + 1 : -1;
        }
        if (_heap.Length < n * 2)
        {
            _heap = new long[n * 2];
        }
        _heapCount = 0;
        for (var i = 0; i + 1 < n; i++)
        {
            if (merges.TryGet(_id[i], _id[i + 1], out var rank, out _))
            {
                Push(((long)rank << 32) | (uint)i);
            }
        }
        while (_heapCount > 0)
        {
            var top = Pop();
            ops++;
            var pos = (int)(top & 0xFFFFFFFF);
            var rank = (int)(top >> 32);
            if (_id[pos] < 0)
            {
                continue; // merged into its left neighbour
            }
            var right = _next[pos];
            if (right < 0)
            {
                continue;
            }
            if (!merges.TryGet(_id[pos], _id[right], out var currentRank, out var newId) || currentRank != rank)
            {
                continue; // stale entry: this pair no longer stands
            }
            _id[pos] = newId;
            _end[pos] = _end[right];
            _id[right] = -1;
            var after = _next[right];
            _next[pos] = after;
            if (after >= 0)
            {
                _prev[after] = pos;
            }
            var before = _prev[pos];
            if (before >= 0 && merges.TryGet(_id[before], newId, out var r1, out _))
            {
                Push(((long)r1 << 32) | (uint)before);
            }
            if (after >= 0 && merges.TryGet(newId, _id[after], out var r2, out _))
            {
                Push(((long)r2 << 32) | (uint)pos);
            }
        }
        Operations = ops;
    }

    /// <summary>Walks the surviving symbols in order: first index, then <see cref="NextOf"/> until -1.</summary>
    public int First => _count == 0 ? -1 : 0;

    public int NextOf(int i)
    {
        // Before Merge ran (fewer than 2 symbols) the links are not set up.
        if (_count < 2)
        {
            return -1;
        }
        return _next[i];
    }

    public int IdAt(int i) => _id[i];

    public int StartAt(int i) => _start[i];

    public int EndAt(int i) => _end[i];

    private void Push(long value)
    {
        if (_heapCount == _heap.Length)
        {
            Array.Resize(ref _heap, _heap.Length * 2);
        }
        var i = _heapCount++;
        while (i > 0)
        {
            var parent = (i - 1) >> 1;
            if (_heap[parent] <= value)
            {
                break;
            }
            _heap[i] = _heap[parent];
            i = parent;
        }
        _heap[i] = value;
    }

    private long Pop()
    {
        var result = _heap[0];
        var last = _heap[--_heapCount];
        var i = 0;
        var half = _heapCount >> 1;
        while (i < half)
        {
            var child = (2 * i) + 1;
            if (child + 1 < _heapCount && _heap[child + 1] < _heap[child])
            {
                child++;
            }
            if (last <= _heap[child])
            {
                break;
            }
            _heap[i] = _heap[child];
            i = child;
        }
        if (_heapCount > 0)
        {
            _heap[i] = last;
        }
        return result;
    }
}
