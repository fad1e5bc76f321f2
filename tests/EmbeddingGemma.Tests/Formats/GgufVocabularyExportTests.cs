using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Tests.Formats;

/// <summary>
/// A GGUF without a tokenizer.json beside it still converts to a usable Hugging Face folder: the tokenizer.json is
/// rebuilt from the GGUF vocabulary (tokens, scores, types) and must tokenize exactly like the original file.
/// </summary>
public sealed class GgufVocabularyExportTests
{
    private static readonly string[] Texts =
    [
        "Hello world", "hello world", "Which planet is known as the Red Planet?", "  leading and   inner   spaces ",
        "tabs\tand\nnewlines\r\n", "<bos> literal special <eos>", "emoji 👩‍👩‍👧 and 中文文本嵌入模型", "<image_soft_token> <start_of_turn>user", "code: for (int i = 0; i < n; i++) { x += i; }",
        "", "a", "ééé àà ß", "the quick brown fox jumps over the lazy dog again and again",
    ];

    [Fact]
    public void Gguf_without_tokenizer_json_converts_to_a_folder_that_tokenizes_and_embeds_like_the_original()
    {
        var tiny = TinyModels.Default;
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(tiny.GgufPath)!, "tokenizer.json")), "precondition: nothing beside the GGUF");
        var ckpt = ModelCheckpoint.Read(tiny.GgufPath);
        Assert.NotNull(ckpt.TokenizerJson);
        var folder = TestPaths.NewTempDir("gguf-to-folder");
        ckpt.WriteHuggingFaceFolder(folder);

        using var original = EmbeddingGemmaModel.Load(tiny.Folder);
        using var converted = EmbeddingGemmaModel.Load(folder);
        foreach (var t in Texts)
        {
            Assert.Equal(original.Tokenizer!.EncodeToIds(t), converted.Tokenizer!.EncodeToIds(t));
        }
        var a = original.Encode(Texts.Where(t => t.Length > 0).ToArray(), new EncodeOptions { PromptName = "query" });
        var b = converted.Encode(Texts.Where(t => t.Length > 0).ToArray(), new EncodeOptions { PromptName = "query" });
        for (var i = 0; i < a.Length; i++)
        {
            // same weights up to the float32 rounding of the GGUF's folded (1 + w) norms: max abs 1e-5 on unit vectors
            var maxAbs = a[i].Zip(b[i], (x, y) => Math.Abs(x - y)).Max();
            Assert.True(maxAbs < 1e-5f, $"text {i}: max abs {maxAbs}");
        }
    }

    [Fact]
    public void Real_gemma3_vocabulary_round_trips_through_the_exported_tokenizer_json()
    {
        var json = File.ReadAllText(TestPaths.Gemma3TokenizerJson);
        var original = GemmaTokenizer.FromJson(json, """{"add_bos_token": true, "add_eos_token": true}""");
        // as a GGUF stores it: one piece per embedding row (262,144; <image_soft_token> is an added token beyond the table)
        var full = TokenizerVocabulary.FromTokenizerJson(json);
        var vocab = full with { Tokens = full.Tokens.Take(262144).ToArray(), Scores = full.Scores.Take(262144).ToArray(), TokenTypes = full.TokenTypes.Take(262144).ToArray() };
        var exported = GemmaTokenizer.FromJson(vocab.ToTokenizerJson(), vocab.ToTokenizerConfigJson());
        Assert.Equal(original.VocabularySize, exported.VocabularySize);
        var corpus = Texts.Concat(File.ReadLines(Path.Combine(TestPaths.RepoRoot, "README.md")).Take(400));
        var n = 0;
        foreach (var t in corpus)
        {
            Assert.Equal(original.EncodeToIds(t), exported.EncodeToIds(t));
            n++;
        }
        Assert.True(n > 300);
    }
}
