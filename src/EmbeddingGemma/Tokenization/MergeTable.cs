namespace EmbeddingGemma.Tokenization;

/// <summary>
/// (left id, right id) -> (rank, merged id), an open-addressing hash table over packed 64-bit keys: one probe
/// sequence, no allocation, no boxing. Built once at load, read concurrently.
/// </summary>
internal sealed class MergeTable
{
    private readonly long[] _keys;
    private readonly long[] _values;
    private readonly int _mask;

    public MergeTable(int capacity)
    {
        var size = 16;
        while (size < capacity * 2)
        {
            size <<= 1;
        }
        _keys = new long[size];
        _values = new long[size];
        _mask = size - 1;
        _keys.AsSpan().Fill(-1);
    }

    public int Count { get; private set; }

    private static int Hash(long key)
    {
        var h = (ulong)key * 0x9E3779B97F4A7C15UL;
        return (int)(h >> 32);
    }

    /// <summary>Adds or replaces (a later merge of the same pair wins, as when Hugging Face collects them into a map).</summary>
    public void Set(int left, int right, int rank, int mergedId)
    {
        var key = ((long)left << 32) | (uint)right;
        var i = Hash(key) & _mask;
        while (true)
        {
            if (_keys[i] == -1)
            {
                _keys[i] = key;
                _values[i] = ((long)rank << 32) | (uint)mergedId;
                Count++;
                return;
            }
            if (_keys[i] == key)
            {
                _values[i] = ((long)rank << 32) | (uint)mergedId;
                return;
            }
            i = (i + 1) & _mask;
        }
    }

    /// <summary>Adds unless the pair is already there (the first, best-ranked merge wins).</summary>
    public void TryAdd(int left, int right, int rank, int mergedId)
    {
        if (!TryGet(left, right, out _, out _))
        {
            Set(left, right, rank, mergedId);
        }
    }

    public bool TryGet(int left, int right, out int rank, out int mergedId)
    {
        var key = ((long)left << 32) | (uint)right;
        var i = Hash(key) & _mask;
        while (true)
        {
            var k = _keys[i];
            if (k == key)
            {
                var v = _values[i];
                rank = (int)(v >> 32);
                mergedId = (int)(v & 0xFFFFFFFF);
                return true;
            }
            if (k == -1)
            {
                rank = mergedId = 0;
                return false;
            }
            i = (i + 1) & _mask;
        }
    }

    /// <summary>Every entry as (left, right, rank, merged id).</summary>
    public IEnumerable<(int Left, int Right, int Rank, int MergedId)> Entries()
    {
        for (var i = 0; i < _keys.Length; i++)
        {
            if (_keys[i] != -1)
            {
                var v = _values[i];
                yield return ((int)(_keys[i] >> 32), (int)(_keys[i] & 0xFFFFFFFF), (int)(v >> 32), (int)(v & 0xFFFFFFFF));
            }
        }
    }
}
