using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmbeddingGemma.Tokenization;

/// <summary>
/// (left id, right id) -> (rank, merged id), an open-addressing hash table (linear probing, load factor at most 1/2)
/// over packed 64-bit keys, key and value side by side so a probe touches one cache line. No allocation, no boxing.
/// Built once at load, read concurrently.
/// </summary>
internal sealed class MergeTable
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Entry
    {
        public long Key;
        public long Value;
    }

    private Entry[] _entries;
    private int _mask;

    public MergeTable(int capacity)
    {
        var size = 16;
        while (size < capacity * 2)
        {
            size <<= 1;
        }
        _entries = new Entry[size];
        _mask = size - 1;
        for (var i = 0; i < size; i++)
        {
            _entries[i].Key = -1;
        }
    }

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 40);

    /// <summary>Adds or replaces (a later merge of the same pair wins, as when Hugging Face collects them into a map).</summary>
    public void Set(int left, int right, int rank, int mergedId)
    {
        var key = ((long)left << 32) | (uint)right;
        var i = Hash(key) & _mask;
        while (true)
        {
            ref var e = ref _entries[i];
            if (e.Key == -1)
            {
                e.Key = key;
                e.Value = ((long)rank << 32) | (uint)mergedId;
                Count++;
                if (Count * 2 > _entries.Length)
                {
                    Grow();
                }
                return;
            }
            if (e.Key == key)
            {
                e.Value = ((long)rank << 32) | (uint)mergedId;
                return;
            }
            i = (i + 1) & _mask;
        }
    }

    private void Grow()
    {
        var old = _entries;
        _entries = new Entry[old.Length * 2];
        _mask = _entries.Length - 1;
        for (var i = 0; i < _entries.Length; i++)
        {
            _entries[i].Key = -1;
        }
        foreach (var e in old)
        {
            if (e.Key != -1)
            {
                var i = Hash(e.Key) & _mask;
                while (_entries[i].Key != -1)
                {
                    i = (i + 1) & _mask;
                }
                _entries[i] = e;
            }
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(int left, int right, out int rank, out int mergedId)
    {
        var key = ((long)left << 32) | (uint)right;
        var entries = _entries;
        var i = Hash(key) & _mask;
        while (true)
        {
            ref var e = ref entries[i];
            if (e.Key == key)
            {
                var v = e.Value;
                rank = (int)(v >> 32);
                mergedId = (int)(v & 0xFFFFFFFF);
                return true;
            }
            if (e.Key == -1)
            {
                rank = mergedId = 0;
                return false;
            }
            i = (i + 1) & _mask;
        }
    }
}
