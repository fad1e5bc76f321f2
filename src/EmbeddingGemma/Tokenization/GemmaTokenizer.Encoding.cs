using System.Text;

namespace EmbeddingGemma.Tokenization;

public sealed partial class GemmaTokenizer
{
    /// <summary>Encodes a text to token ids, wrapped as <c>&lt;bos&gt; … &lt;eos&gt;</c> when <paramref name="addSpecialTokens"/> is set
    /// (each as <see cref="AddBosToken"/>/<see cref="AddEosToken"/> say).</summary>
    public int[] EncodeToIds(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var buffer = Run(text, addSpecialTokens);
        return buffer.Ids.AsSpan(0, buffer.Count).ToArray();
    }

    /// <summary>
    /// Encodes a text to at most <paramref name="maxTokenCount"/> ids. When the text is longer, the content is cut and
    /// the special tokens stay (<c>&lt;eos&gt;</c> last), and <paramref name="truncated"/> is set.
    /// </summary>
    /// <exception cref="EmbeddingGemmaException">InvalidArgument when <paramref name="maxTokenCount"/> cannot hold the special tokens.</exception>
    public int[] EncodeToIds(string text, int maxTokenCount, out bool truncated, bool addSpecialTokens = true) =>
        EncodeToIds(text, maxTokenCount, out truncated, out _, addSpecialTokens);

    /// <summary>
    /// As <see cref="EncodeToIds(string, int, out bool, bool)"/>, and reports in <paramref name="fullCount"/> how many ids the
    /// whole text has (specials included) before the cut, from the same single tokenization.
    /// </summary>
    public int[] EncodeToIds(string text, int maxTokenCount, out bool truncated, out int fullCount, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var buffer = Run(text, addSpecialTokens);
        fullCount = buffer.Count;
        var keep = TruncatedCount(buffer, maxTokenCount, addSpecialTokens, out truncated);
        if (!truncated)
        {
            return buffer.Ids.AsSpan(0, buffer.Count).ToArray();
        }
        var result = new int[maxTokenCount];
        buffer.Ids.AsSpan(0, keep).CopyTo(result);
        if (keep < maxTokenCount)
        {
            result[keep] = EosId; // truncation keeps <eos> last
        }
        return result;
    }

    /// <summary>Encodes a text to tokens with their pieces and the character ranges of <paramref name="text"/> they cover.</summary>
    public IReadOnlyList<GemmaToken> EncodeToTokens(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var buffer = Run(text, addSpecialTokens);
        var result = new GemmaToken[buffer.Count];
        for (var i = 0; i < buffer.Count; i++)
        {
            var id = buffer.Ids[i];
            result[i] = new GemmaToken(id, _pieces[id], new Range(buffer.Starts[i], buffer.Ends[i]));
        }
        return result;
    }

    /// <summary>
    /// Like <see cref="EncodeToTokens(string, bool)"/>, cut to at most <paramref name="maxTokenCount"/> tokens
    /// (special tokens kept, <c>&lt;eos&gt;</c> last).
    /// </summary>
    public IReadOnlyList<GemmaToken> EncodeToTokens(string text, int maxTokenCount, out bool truncated, bool addSpecialTokens = true)
    {
        var all = EncodeToTokens(text, addSpecialTokens);
        var buffer = new TokenBuffer { Count = all.Count };
        var keep = TruncatedCount(buffer, maxTokenCount, addSpecialTokens, out truncated);
        if (!truncated)
        {
            return all;
        }
        var result = new List<GemmaToken>(maxTokenCount);
        for (var i = 0; i < keep; i++)
        {
            result.Add(all[i]);
        }
        if (addSpecialTokens && AddEosToken)
        {
            result.Add(all[^1]);
        }
        return result;
    }

    /// <summary>The number of tokens <see cref="EncodeToIds(string, bool)"/> returns, without allocating them.</summary>
    public int CountTokens(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Run(text, addSpecialTokens).Count;
    }

    /// <summary>Encodes many texts, in parallel over texts; results in input order.</summary>
    public int[][] EncodeBatchToIds(IReadOnlyList<string> texts, bool addSpecialTokens = true, int? maxTokenCount = null, bool[]? truncated = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (truncated is not null && truncated.Length < texts.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"truncated has {truncated.Length} slots for {texts.Count} texts");
        }
        for (var i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"texts[{i}] is null");
            }
        }
        var result = new int[texts.Count][];
        Parallel.For(0, texts.Count, i =>
        {
            var text = texts[i];
            if (maxTokenCount is int max)
            {
                result[i] = EncodeToIds(text, max, out var t, addSpecialTokens);
                if (truncated is not null)
                {
                    truncated[i] = t;
                }
            }
            else
            {
                result[i] = EncodeToIds(text, addSpecialTokens);
            }
        });
        return result;
    }

    private int SpecialCount(bool addSpecialTokens) => addSpecialTokens ? (AddBosToken ? 1 : 0) + (AddEosToken ? 1 : 0) : 0;

    /// <returns>How many leading tokens to keep (before the trailing &lt;eos&gt; when there is one).</returns>
    private int TruncatedCount(TokenBuffer buffer, int maxTokenCount, bool addSpecialTokens, out bool truncated)
    {
        var specials = SpecialCount(addSpecialTokens);
        if (maxTokenCount < Math.Max(1, specials))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"maxTokenCount is {maxTokenCount}; it must be at least {Math.Max(1, specials)} to hold the special tokens");
        }
        truncated = buffer.Count > maxTokenCount;
        if (!truncated)
        {
            return buffer.Count;
        }
        return addSpecialTokens && AddEosToken ? maxTokenCount - 1 : maxTokenCount;
    }

    private TokenBuffer Run(string text, bool addSpecialTokens)
    {
        var buffer = t_buffer ??= new TokenBuffer();
        buffer.Clear();
        if (addSpecialTokens && AddBosToken)
        {
            buffer.Add(BosId, 0, 0);
        }
        EncodeText(text.AsSpan(), buffer);
        if (addSpecialTokens && AddEosToken)
        {
            buffer.Add(EosId, text.Length, text.Length);
        }
        return buffer;
    }

    private static bool IsWordChar(ReadOnlySpan<char> text, int index)
    {
        var c = text[index];
        return char.IsLetterOrDigit(c) || c == '_';
    }

    /// <summary>Splits on added tokens matched in the raw text, then encodes the pieces between them.</summary>
    private void EncodeText(ReadOnlySpan<char> text, TokenBuffer output)
    {
        if (_rawMatcher is null)
        {
            EncodePlain(text, 0, text.Length, output);
            return;
        }
        SplitOnAddedTokens(text, 0, text.Length, _rawMatcher, output, normalizedPass: false);
    }

    private void SplitOnAddedTokens(ReadOnlySpan<char> text, int from, int to, AddedTokenMatcher matcher, TokenBuffer output, bool normalizedPass)
    {
        var segment = text[from..to];
        var plainStart = 0;
        var searchFrom = 0;
        while (matcher.FindNext(segment, searchFrom, out var start, out var end, out var token))
        {
            searchFrom = end;
            if (token.SingleWord)
            {
                var startOk = start == 0 || !IsWordChar(segment, start - 1);
                var endOk = end == segment.Length || !IsWordChar(segment, end);
                if (!startOk || !endOk)
                {
                    continue;
                }
            }
            if (token.LStrip)
            {
                while (start > plainStart && char.IsWhiteSpace(segment[start - 1]))
                {
                    start--;
                }
            }
            if (token.RStrip)
            {
                while (end < segment.Length && char.IsWhiteSpace(segment[end]))
                {
                    end++;
                }
                searchFrom = end;
            }
            EncodeBetween(text, from + plainStart, from + start, output, normalizedPass);
            output.Add(token.Id, from + start, from + end);
            plainStart = end;
        }
        EncodeBetween(text, from + plainStart, to, output, normalizedPass);
    }

    private void EncodeBetween(ReadOnlySpan<char> text, int from, int to, TokenBuffer output, bool normalizedPass)
    {
        if (from >= to)
        {
            return;
        }
        if (!normalizedPass && _normalizedMatcher is not null)
        {
            SplitOnAddedTokens(text, from, to, _normalizedMatcher, output, normalizedPass: true);
        }
        else
        {
            EncodePlain(text, from, to, output);
        }
    }

    /// <summary>
    /// BPE over text[from..to]. Gemma's pre-tokenizer does not split (spaces are ▁ by then), so the whole text is one
    /// BPE word; but no merge can join a symbol ending in a character c to a following ▁ unless some vocabulary piece
    /// contains "c▁" (checked at load), so the text is cut there into independent words, which gives identical ids
    /// and lets a per-thread cache serve repeated words.
    /// </summary>
    private void EncodePlain(ReadOnlySpan<char> text, int from, int to, TokenBuffer output)
    {
        if (from >= to)
        {
            return;
        }
        if (_wordBoundaryBefore is null || _ignoreMerges)
        {
            EncodeWord(text, from, to, output);
            return;
        }
        var cache = _wordCache.Value!;
        WorkCounter.Add(to - from);
        var wordStart = from;
        var prevIsSpace = IsSpaceChar(text[from]);
        for (var p = from + 1; p < to; p++)
        {
            var isSpace = IsSpaceChar(text[p]);
            if (isSpace && !prevIsSpace && _wordBoundaryBefore[text[p - 1]])
            {
                EncodeCachedWord(text, wordStart, p, output, cache);
                wordStart = p;
            }
            prevIsSpace = isSpace;
        }
        EncodeCachedWord(text, wordStart, to, output, cache);
    }

    private bool IsSpaceChar(char c) => c == _normalizeTo || (c == _normalizeFrom && _normalizeFrom != '\0');

    private void EncodeCachedWord(ReadOnlySpan<char> text, int from, int to, TokenBuffer output, WordCache cache)
    {
        var word = text[from..to];
        if (word.Length > WordCache.MaxWordLength || _wordCacheSize <= 0 || WordCache.DisabledOnThisThread)
        {
            EncodeWord(text, from, to, output);
            return;
        }
        if (cache.Lookup.TryGetValue(word, out var packed))
        {
            for (var k = 0; k < packed.Length; k += 3)
            {
                output.Add(packed[k], from + packed[k + 1], from + packed[k + 2]);
            }
            return;
        }
        var first = output.Count;
        EncodeWord(text, from, to, output);
        var n = output.Count - first;
        var entry = new int[n * 3];
        for (var k = 0; k < n; k++)
        {
            entry[3 * k] = output.Ids[first + k];
            entry[(3 * k) + 1] = output.Starts[first + k] - from;
            entry[(3 * k) + 2] = output.Ends[first + k] - from;
        }
        cache.Add(word, entry);
    }

    /// <summary>BPE over one word, text[from..to].</summary>
    private void EncodeWord(ReadOnlySpan<char> text, int from, int to, TokenBuffer output)
    {
        var merger = t_merger ??= new BpeMerger();
        merger.Reset();
        if (_ignoreMerges && TryWholeWord(text[from..to], out var wholeId))
        {
            output.Add(wholeId, from, to);
            return;
        }
        Span<byte> utf8 = stackalloc byte[4];
        var lastWasUnk = false;
        var i = from;
        while (i < to)
        {
            var start = i;
            var c = text[i];
            int id;
            Rune rune;
            if (char.IsHighSurrogate(c) && i + 1 < to && char.IsLowSurrogate(text[i + 1]))
            {
                rune = new Rune(c, text[i + 1]);
                i += 2;
                id = _supplementaryToId.TryGetValue(rune.Value, out var sid) ? sid : -1;
            }
            else
            {
                i++;
                if (char.IsSurrogate(c))
                {
                    c = '\uFFFD'; // unpaired surrogate: read as U+FFFD, as .NET's UTF-8 encoder does
                }
                else if (c == _normalizeFrom && _normalizeFrom != '\0')
                {
                    c = _normalizeTo;
                }
                rune = new Rune(c);
                id = _charToId[c];
            }
            if (id >= 0)
            {
                merger.Add(id, start, i);
                lastWasUnk = false;
                continue;
            }
            if (_byteFallback)
            {
                var n = rune.EncodeToUtf8(utf8);
                var all = true;
                for (var k = 0; k < n; k++)
                {
                    all &= _byteToId[utf8[k]] >= 0;
                }
                if (all)
                {
                    for (var k = 0; k < n; k++)
                    {
                        merger.Add(_byteToId[utf8[k]], start, i);
                    }
                    lastWasUnk = false;
                    continue;
                }
            }
            if (_unkId >= 0)
            {
                if (_fuseUnk && lastWasUnk)
                {
                    merger.ExtendLast(i);
                }
                else
                {
                    merger.Add(_unkId, start, i);
                }
                lastWasUnk = true;
            }
        }
        merger.Merge(_merges);
        WorkCounter.Add(merger.Operations + merger.Count);
        for (var s = merger.First; s >= 0; s = merger.NextOf(s))
        {
            output.Add(merger.IdAt(s), merger.StartAt(s), merger.EndAt(s));
        }
    }


    private bool TryWholeWord(ReadOnlySpan<char> word, out int id)
    {
        Span<char> tmp = word.Length <= 256 ? stackalloc char[word.Length] : new char[word.Length];
        for (var k = 0; k < word.Length; k++)
        {
            var c = word[k];
            tmp[k] = c == _normalizeFrom && _normalizeFrom != '\0' ? _normalizeTo : c;
        }
        return _pieceToId.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(tmp, out id);
    }
}
