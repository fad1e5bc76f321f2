namespace EmbeddingGemma.Tokenization;

/// <summary>Per-thread cache of encoded words: raw word text -> packed (id, start, end) triples relative to the word.</summary>
internal sealed class WordCache
{
    public const int MaxWordLength = 64;
    public const int DefaultMaxEntries = 100_000;
    private readonly int _maxEntries;
    private readonly Dictionary<string, int[]> _map = new(StringComparer.Ordinal);

    /// <summary>Turns the cache off on the current thread (the linear-time test measures the uncached worst case).</summary>
    [ThreadStatic]
    internal static bool DisabledOnThisThread;

    public WordCache(int maxEntries)
    {
        _maxEntries = maxEntries;
        Lookup = _map.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> Lookup { get; }

    public void Add(ReadOnlySpan<char> word, int[] packed)
    {
        if (_map.Count >= _maxEntries)
        {
            _map.Clear();
        }
        Lookup.TryAdd(word, packed);
    }
}
