using System.Text;
using EmbeddingGemma.Tokenization;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>
/// Tiny tokenizers of Gemma's structure (as the model helper writes for tiny random models): any vocabulary size
/// loads, and ids match the Hugging Face oracle, including added tokens with lstrip / rstrip / single_word /
/// normalized flags.
/// </summary>
public class SyntheticTokenizerTests(ITestOutputHelper output)
{
    private static IEnumerable<string> Texts()
    {
        string[] palette = [" ", "  ", "the", "fox", "dog", "<b>", "</b>", "bold", "\n", "é", "東京", "都", "😀", "zq", "[X]", "[Y]", "{w}", "_", "a", "1", ".", "▁", "<bos>", "\t"];
        var rng = new Random(7);
        yield return "";
        yield return SyntheticTokenizer.Sample;
        for (var i = 0; i < 600; i++)
        {
            var sb = new StringBuilder();
            var n = rng.Next(1, 25);
            for (var k = 0; k < n; k++)
            {
                sb.Append(palette[rng.Next(palette.Length)]);
            }
            yield return sb.ToString();
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(40)]
    [InlineData(150)]
    public void Ids_match_hugging_face_for_any_vocabulary_size(int merges)
    {
        var extra = new[]
        {
            SyntheticTokenizer.AddedToken("[X]", lstrip: true),
            SyntheticTokenizer.AddedToken("[Y]", rstrip: true),
            SyntheticTokenizer.AddedToken("{w}", singleWord: true),
            SyntheticTokenizer.AddedToken("fox dog", normalized: true),
            SyntheticTokenizer.AddedToken("<b>bold", special: false),
        };
        var json = SyntheticTokenizer.Build(merges, extra);
        var path = SyntheticTokenizer.Write(json);
        var ours = GemmaTokenizer.FromFile(path, new GemmaTokenizerOptions { EmbeddingRows = SyntheticTokenizer.VocabularySize(json) + extra.Length });
        Assert.NotNull(ours.TokenToId("[X]"));
        var oracle = new Tokenizers.DotNet.Tokenizer(vocabPath: path);
        var n = 0;
        foreach (var text in Texts())
        {
            var expected = oracle.Encode(text).Select(x => (int)x).ToArray();
            Assert.True(expected.AsSpan().SequenceEqual(ours.EncodeToIds(text)),
                $"{ParityTests.Show(text)}: HF {string.Join(",", expected)} ours {string.Join(",", ours.EncodeToIds(text))}");
            n++;
        }
        output.WriteLine($"{merges} merges, vocabulary {ours.VocabularySize}: {n} of {n} texts match HF");
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [Fact]
    public void Added_tokens_beyond_the_embedding_rows_are_plain_text()
    {
        var json = SyntheticTokenizer.Build(60, [SyntheticTokenizer.AddedToken("<img>", special: true)]);
        var size = SyntheticTokenizer.VocabularySize(json);
        // <img> got id = size, one past the model's vocabulary (like <image_soft_token>).
        var ours = GemmaTokenizer.FromJson(json);
        Assert.Equal(size, ours.VocabularySize);
        Assert.All(ours.EncodeToIds("a <img> b"), id => Assert.InRange(id, 0, size - 1));
        var wide = GemmaTokenizer.FromJson(json, options: new GemmaTokenizerOptions { EmbeddingRows = size + 1 });
        Assert.Contains(size, wide.EncodeToIds("a <img> b"));
        Assert.Equal(SentencePieceTokenType.Control, wide.TokenTypes[size]);
        Assert.Equal(size + 1, wide.VocabularySize);
        // The table must cover the BPE vocabulary.
        var e = Assert.Throws<EmbeddingGemmaException>(() => GemmaTokenizer.FromJson(json, options: new GemmaTokenizerOptions { EmbeddingRows = size - 1 }));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void Config_flags_and_defaults()
    {
        var json = SyntheticTokenizer.Build(30);
        Assert.Equal([2, 1], GemmaTokenizer.FromJson(json).EncodeToIds(""));
        Assert.Equal([2], GemmaTokenizer.FromJson(json, """{"add_eos_token": false}""").EncodeToIds(""));
        Assert.Equal([1], GemmaTokenizer.FromJson(json, """{"add_bos_token": false}""").EncodeToIds(""));
        Assert.Equal([2, 1], GemmaTokenizer.FromJson(json, """{"tokenizer_class": "GemmaTokenizer"}""").EncodeToIds(""));
        Assert.Equal(Array.Empty<int>(), GemmaTokenizer.FromJson(json).EncodeToIds("", addSpecialTokens: false));
        var path = SyntheticTokenizer.Write(json, """{"add_bos_token": true, "add_eos_token": false}""");
        Assert.Equal([2], GemmaTokenizer.FromFile(Path.GetDirectoryName(path)!).EncodeToIds(""));
        Assert.Equal([2], GemmaTokenizer.FromFile(path).EncodeToIds(""));
        Assert.Equal([2, 1], GemmaTokenizer.FromFile(path, new GemmaTokenizerOptions { AddEosToken = true }).EncodeToIds(""));
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [Fact]
    public void Gguf_form_of_a_synthetic_vocabulary_round_trips()
    {
        var ours = GemmaTokenizer.FromJson(SyntheticTokenizer.Build(150));
        var rebuilt = new GemmaTokenizer(ours.ToSentencePieceVocabulary());
        foreach (var text in Texts())
        {
            Assert.Equal(ours.EncodeToIds(text), rebuilt.EncodeToIds(text));
        }
    }
}
