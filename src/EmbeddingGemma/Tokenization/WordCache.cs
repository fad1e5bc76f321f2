namespace EmbeddingGemma.Tokenization;

/// <summary>Per-thread cache of encoded words: raw word text -> packed (id, start, end) triples relative to the word.</summary>
internal sealed class WordCache
{
    public const int MaxWordLength = 64;
    private const int MaxEntries = 100_000;
    private readonly Dictionary<string, int[]> _map = new(StringComparer.Ordinal);

    public WordCache() => Lookup = _map.GetAlternateLookup<ReadOnlySpan<char>>();

    public Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> Lookup { get; }

    public void Add(ReadOnlySpan<char> word, int[] packed)
    {
        if (_map.Count >= MaxEntries)
        {
            _map.Clear();
        }
        Lookup.TryAdd(word, packed);
    }
}
