namespace EmbeddingGemma.Search.Index;

/// <summary>A piece of a document: character offsets [Start, End) into the document text.</summary>
public readonly record struct TextChunk(int Ordinal, int Start, int End, string Text);

/// <summary>
/// Chunking parameters. Token offsets come from <see cref="TokenOffsets"/> (e.g. the Gemma tokenizer's
/// EncodeToTokens offsets, without special tokens); without it a character-based approximation is used
/// (<see cref="TextChunker.ApproximateTokens"/>).
/// </summary>
public sealed record ChunkingOptions
{
    /// <summary>Tokens per chunk (the prompt adds about 10 more; EmbeddingGemma reads up to 2048).</summary>
    public int MaxTokens { get; init; } = 512;
    /// <summary>Tokens shared by consecutive chunks.</summary>
    public int OverlapTokens { get; init; } = 64;
    /// <summary>Character ranges of the tokens of a text, in order. Null: approximate tokens.</summary>
    public Func<string, IReadOnlyList<Range>>? TokenOffsets { get; init; }
    /// <summary>Names the token counter in the content hash, so changing it re-embeds.</summary>
    public string TokenizerId { get; init; } = "approx-v1";

    internal void Validate()
    {
        if (MaxTokens < 1 || OverlapTokens < 0 || OverlapTokens >= MaxTokens)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Chunking needs MaxTokens >= 1 and 0 <= OverlapTokens < MaxTokens (got {MaxTokens}, {OverlapTokens}).");
        }
    }
}

/// <summary>
/// Splits long texts into overlapping token windows that carry their character offsets. Window edges that fall
/// inside a word are moved inwards to the word's edges, so a chunk never holds more than MaxTokens.
/// </summary>
public static class TextChunker
{
    public static IReadOnlyList<TextChunk> Split(string text, ChunkingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        options ??= new ChunkingOptions();
        options.Validate();
        var tokens = options.TokenOffsets is null ? ApproximateTokens(text) : options.TokenOffsets(text);
        if (tokens.Count <= options.MaxTokens)
        {
            return [new TextChunk(0, 0, text.Length, text)];
        }
        var chunks = new List<TextChunk>();
        int step = options.MaxTokens - options.OverlapTokens;
        for (int first = 0; ; first += step)
        {
            int last = Math.Min(first + options.MaxTokens, tokens.Count) - 1;
            int start = tokens[first].Start.GetOffset(text.Length);
            // The chunk runs to the start of the next token (keeps trailing spaces/punctuation) or to the end.
            int end = last + 1 < tokens.Count ? tokens[last + 1].Start.GetOffset(text.Length) : text.Length;
            // Never cut a word in two: move inner edges to word boundaries, inwards (the overlap keeps coverage).
            int s0 = start, e0 = end;
            while (start > 0 && start < e0 && IsWordChar(text[start - 1]) && IsWordChar(text[start]))
            {
                start++;
            }
            while (end < text.Length && end > start && IsWordChar(text[end - 1]) && IsWordChar(text[end]))
            {
                end--;
            }
            if (end <= start)
            {
                (start, end) = (s0, e0);
            }
            chunks.Add(new TextChunk(chunks.Count, start, end, text[start..end]));
            if (last + 1 >= tokens.Count)
            {
                break;
            }
        }
        return chunks;
    }

    /// <summary>
    /// Character-based token approximation: each CJK/Hiragana/Katakana/Hangul character is one token; a run of
    /// letters or digits is one token per 4 characters (about what SentencePiece gives English); any other
    /// non-space character is one token.
    /// </summary>
    public static IReadOnlyList<Range> ApproximateTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = new List<Range>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            if (IsCjk(c) || !char.IsLetterOrDigit(c))
            {
                int len = char.IsHighSurrogate(c) && i + 1 < text.Length ? 2 : 1;
                list.Add(i..(i + len));
                i += len;
                continue;
            }
            int start = i;
            while (i < text.Length && char.IsLetterOrDigit(text[i]) && !IsCjk(text[i]))
            {
                i++;
            }
            for (int s = start; s < i; s += 4)
            {
                list.Add(s..Math.Min(s + 4, i));
            }
        }
        return list;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) && !IsCjk(c);

    private static bool IsCjk(char c) =>
        (c >= '\u3040' && c <= '\u30FF') || (c >= '\u3400' && c <= '\u9FFF') || (c >= '\uAC00' && c <= '\uD7AF') || (c >= '\uF900' && c <= '\uFAFF');
}

/// <summary>Chunking with the real Gemma tokenizer's token offsets.</summary>
public static class TokenizerChunking
{
    /// <summary>Chunking options whose token counts come from <paramref name="tokenizer"/> (no special tokens).</summary>
    public static ChunkingOptions For(EmbeddingGemma.Tokenization.GemmaTokenizer tokenizer, int maxTokens = 512, int overlapTokens = 64)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return new ChunkingOptions
        {
            MaxTokens = maxTokens,
            OverlapTokens = overlapTokens,
            TokenOffsets = text => tokenizer.EncodeToTokens(text, addSpecialTokens: false).Select(t => t.Offset).ToList(),
            TokenizerId = $"gemma-tokenizer:{tokenizer.VocabularySize}",
        };
    }
}
