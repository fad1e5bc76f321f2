namespace EmbeddingGemma.Tokenization;

/// <summary>
/// Finds added tokens in text, leftmost-longest (as the Hugging Face tokenizers' Aho-Corasick matcher does), with a
/// character trie. Work per call is at most (characters scanned) x (longest token length), so linear in the text.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<long, int> _children = new();
    private readonly List<int> _terminal = new() { -1 };
    private readonly bool[] _firstChar = new bool[char.MaxValue + 1];
    private readonly AddedToken[] _tokens;
    private readonly char _spaceFrom;
    private readonly char _spaceTo;

    /// <param name="tokens">The tokens this matcher finds.</param>
    /// <param name="spaceFrom">With <paramref name="spaceTo"/>: the normalizer's one-character replacement, applied
    /// to the text while matching when <paramref name="normalizedText"/> is set.</param>
    /// <param name="spaceTo">See <paramref name="spaceFrom"/>.</param>
    /// <param name="normalizedText">Match against the normalized view of the text.</param>
    public AddedTokenMatcher(IReadOnlyList<AddedToken> tokens, char spaceFrom, char spaceTo, bool normalizedText)
    {
        _tokens = tokens.ToArray();
        _spaceFrom = normalizedText ? spaceFrom : '\0';
        _spaceTo = normalizedText ? spaceTo : '\0';
        for (var t = 0; t < _tokens.Length; t++)
        {
            var content = _tokens[t].Content;
            if (content.Length == 0)
            {
                continue;
            }
            var node = 0;
            foreach (var raw in content)
            {
                var c = Map(raw);
                var key = ((long)node << 16) | c;
                if (!_children.TryGetValue(key, out var child))
                {
                    child = _terminal.Count;
                    _terminal.Add(-1);
                    _children.Add(key, child);
                }
                node = child;
            }
            _firstChar[Map(content[0])] = true;
            // A later token with the same content wins, as in a dictionary keyed by content.
            _terminal[node] = t;
        }
    }

    public int Count => _tokens.Length;

    public AddedToken this[int index] => _tokens[index];

    private char Map(char c) => c == _spaceFrom && _spaceFrom != '\0' ? _spaceTo : c;

    /// <summary>Leftmost-longest match starting at or after <paramref name="from"/>.</summary>
    /// <returns>false when there is none.</returns>
    public bool FindNext(ReadOnlySpan<char> text, int from, out int start, out int end, out AddedToken token)
    {
        var steps = 0L;
        for (var i = from; i < text.Length; i++)
        {
            if (!_firstChar[Map(text[i])])
            {
                continue;
            }
            var node = 0;
            var best = -1;
            var bestToken = -1;
            for (var j = i; j < text.Length; j++)
            {
                steps++;
                if (!_children.TryGetValue(((long)node << 16) | Map(text[j]), out node))
                {
                    break;
                }
                if (_terminal[node] >= 0)
                {
                    best = j + 1;
                    bestToken = _terminal[node];
                }
            }
            if (best > 0)
            {
                WorkCounter.Add(steps + (i - from));
                start = i;
                end = best;
                token = _tokens[bestToken];
                return true;
            }
        }
        WorkCounter.Add(steps + (text.Length - from));
        start = end = -1;
        token = null!;
        return false;
    }
}
