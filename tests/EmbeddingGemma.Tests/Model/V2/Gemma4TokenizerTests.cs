using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Tests.Model.V2;

/// <summary>The Gemma 4 special-token layout (spec2 §4) on a synthetic tokenizer, and media placeholders end to end.</summary>
public sealed class Gemma4TokenizerTests
{
    private static readonly Lazy<string> Json = new(() => Gemma4Tokenizer.CreateSyntheticJson());

    [Fact]
    public void NamedTokensSitAtTheirGemma4Ids()
    {
        var tok = GemmaTokenizer.FromJson(Json.Value);
        Assert.Equal(262144, tok.VocabularySize);
        Assert.Equal((0, 1, 2, 3), (tok.PadId, tok.EosId, tok.BosId, tok.UnkId));
        foreach (var (content, id) in Gemma4Tokenizer.NamedTokens)
        {
            Assert.Equal([2, id, 1], tok.EncodeToIds(content));   // special-token text is matched as the token (as HF)
        }
        var ids = tok.EncodeToIds("look at <|image|> and <|turn>user");
        Assert.Contains(258880, ids);
        Assert.Contains(105, ids);
        // Gemma 3's strings are ordinary text here, and there is no <image_soft_token> row 262144
        Assert.DoesNotContain(255999, tok.EncodeToIds("<start_of_image>"));
        Assert.True(tok.EncodeToIds("<start_of_image>").Length > 3);
        Assert.True(tok.EncodeToIds("<image_soft_token>").All(i => i < 262144));
    }

    [Fact]
    public void PlaceholdersNeverReachTheTextModelAsTextEmbeddings()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"eg2-gemma4-{Guid.NewGuid():N}");
        try
        {
            var json = Path.Combine(dir, "src-tokenizer.json");
            Directory.CreateDirectory(dir);
            File.WriteAllText(json, Json.Value);
            var ckpt = RandomModel2.Create("tiny", 5, c => c with { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, HeadDim = 8, GlobalHeadDim = 16, HiddenSizePerLayerInput = 16, EmbeddingDim = 48, LayerTypes = null }, json);
            Assert.Equal(262144, ckpt.Config.VocabSize);
            Assert.Equal((258880, 258881, 258884), (ckpt.Config.ImageTokenId, ckpt.Config.AudioTokenId, ckpt.Config.VideoTokenId));
            var folder = Path.Combine(dir, "m");
            ckpt.WriteHuggingFaceFolder(folder);
            using var model = EmbeddingGemmaModel.Load(folder);
            foreach (var text in new[] { "a photo <|image|>", "listen <|audio|>", "<|video|> clip" })
            {
                var e = Assert.Throws<EmbeddingGemmaException>(() => model.Encode(text));
                Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            }
            Assert.Equal(48, model.Encode("<|turn>user hello<turn|>").Length);   // other Gemma 4 specials are ordinary inputs
            // given as ids, a placeholder embeds as pad (HF EmbeddingGemma2Model.forward), never its own row
            Assert.Equal(model.EncodeTokenIds([[2, 0, 1]])[0], model.EncodeTokenIds([[2, 258880, 1]])[0]);
            Assert.NotEqual(model.EncodeTokenIds([[2, 0, 1]])[0], model.EncodeTokenIds([[2, 258882, 1]])[0]);   // <image|> keeps its (fused) row
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static readonly string[] VocabularyTexts =
    [
        "hello world", "Hello  world\n\nnew paragraph\n", "   leading spaces and trailing   ", "tabs\tand\r\nlines",
        "émigré naïve 東京 🚀 ok", "<|turn>user look at <|image|> and <|channel>x<channel|><turn|>", "<bos> is text here? <eos>",
        "", "a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];

    /// <summary>The "a b" merge strings of a tokenizer.json, read independently of TokenizerVocabulary.</summary>
    private static string[] MergesOf(string tokenizerJson) =>
        System.Text.Json.Nodes.JsonNode.Parse(tokenizerJson)!["model"]!["merges"]!.AsArray()
            .Select(m => m is System.Text.Json.Nodes.JsonArray p ? $"{(string)p[0]!} {(string)p[1]!}" : (string)m!).ToArray();

    /// <summary>
    /// GGUF vocabulary of tokenizer model <c>gemma4</c> (llama.cpp's Gemma4Model.set_vocab keys: model, tokens, scores,
    /// token_type, merges, special ids, add_bos/add_space_prefix), written from the Gemma 4 layout's synthetic
    /// tokenizer.json with scores that contradict the merges (score = id: later pieces would merge first; llama.cpp
    /// writes uninformative placeholders), read back: the merges (not the scores) drive BPE, and every text (specials,
    /// whitespace runs, byte fallback) gets the ids of the original tokenizer.json.
    /// </summary>
    [Fact]
    public void Gemma4GgufVocabularyRoundTripsThroughItsMerges()
    {
        var json = Json.Value;
        var vocab = TokenizerVocabulary.FromTokenizerJson(json) with { Model = TokenizerVocabulary.ModelGemma4 };
        vocab = vocab with { Scores = Enumerable.Range(0, vocab.Tokens.Count).Select(i => (float)i).ToArray() };
        var path = Path.Combine(Path.GetTempPath(), $"eg2-gemma4-vocab-{Guid.NewGuid():N}.gguf");
        try
        {
            var writer = new EmbeddingGemma.Formats.GgufWriter();
            writer.AddString("general.architecture", "gemma-embedding2");
            vocab.WriteTo(writer);
            writer.Write(path);
            using var g = EmbeddingGemma.Formats.GgufFile.Open(path);
            Assert.Equal("gemma4", g.GetString("tokenizer.ggml.model"));
            var merges = MergesOf(json);
            Assert.NotEmpty(merges);
            Assert.Equal(merges, g.TryGetArray<string>("tokenizer.ggml.merges"));
            Assert.Equal(262144, g.TryGetArray<string>("tokenizer.ggml.tokens")!.Length);
            Assert.Equal((2u, 1u, 3u, 0u), (g.GetUInt("tokenizer.ggml.bos_token_id"), g.GetUInt("tokenizer.ggml.eos_token_id"),
                g.GetUInt("tokenizer.ggml.unknown_token_id"), g.GetUInt("tokenizer.ggml.padding_token_id")));
            Assert.False(g.TryGetBool("tokenizer.ggml.add_space_prefix"));
            var types = g.TryGetArray<int>("tokenizer.ggml.token_type")!;
            foreach (var (_, id) in Gemma4Tokenizer.NamedTokens)
            {
                Assert.Equal(3, types[id]);   // CONTROL
            }
            var back = TokenizerVocabulary.FromGguf(g)!;
            Assert.Equal(TokenizerVocabulary.ModelGemma4, back.Model);
            var original = GemmaTokenizer.FromJson(json);
            var fromGguf = GemmaTokenizer.FromJson(back.ToTokenizerJson(), back.ToTokenizerConfigJson());
            foreach (var text in VocabularyTexts)
            {
                Assert.Equal(original.EncodeToIds(text), fromGguf.EncodeToIds(text));
            }
            // control: the same vocabulary read as a SentencePiece ("llama") one merges by those scores and gives other ids
            var byScores = new GemmaTokenizer(new SentencePieceVocabulary(back.Tokens, back.Scores, back.TokenTypes.Select(t => (SentencePieceTokenType)t).ToArray()));
            Assert.Contains(VocabularyTexts, t => !byScores.EncodeToIds(t).SequenceEqual(original.EncodeToIds(t)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Gemma4GgufWithoutMergesOrWithABadMergeIsRefusedNamingTheKey()
    {
        var path = Path.Combine(Path.GetTempPath(), $"eg2-gemma4-bad-{Guid.NewGuid():N}.gguf");
        try
        {
            var vocab = TokenizerVocabulary.FromTokenizerJson(SyntheticTokenizer.CreateJson());
            var keys = new EmbeddingGemma.Formats.GgufWriter();
            keys.AddString("tokenizer.ggml.model", "gemma4").AddStrings("tokenizer.ggml.tokens", vocab.Tokens)
                .AddFloats("tokenizer.ggml.scores", vocab.Scores).AddInts("tokenizer.ggml.token_type", vocab.TokenTypes);
            keys.Write(path);
            using (var g = EmbeddingGemma.Formats.GgufFile.Open(path))
            {
                var e = Assert.Throws<EmbeddingGemmaException>(() => TokenizerVocabulary.FromGguf(g));
                Assert.Contains("tokenizer.ggml.merges", e.Message, StringComparison.Ordinal);
                Assert.Contains(path, e.Message, StringComparison.Ordinal);
            }
            keys.AddStrings("tokenizer.ggml.merges", ["a b", "nospace"]);
            keys.Write(path);
            using (var g = EmbeddingGemma.Formats.GgufFile.Open(path))
            {
                var e = Assert.Throws<EmbeddingGemmaException>(() => TokenizerVocabulary.FromGguf(g));
                Assert.Contains("'nospace'", e.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// An EmbeddingGemma 2 GGUF carries its vocabulary as <c>gemma4</c> with merges; loaded alone (no tokenizer.json
    /// beside it) and with llama.cpp's placeholder scores, text encodes to the same vectors as the HF folder.
    /// </summary>
    [Fact]
    public void ModelGgufWithTheGemma4VocabularyEncodesTextLikeTheFolder()
    {
        var m = TinyModels2.Default;
        var dir = Path.Combine(Path.GetTempPath(), $"eg2-gemma4-model-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "placeholder-scores.gguf");
            using (var src = EmbeddingGemma.Formats.GgufFile.Open(m.GgufPath))
            {
                Assert.Equal("gemma4", src.GetString("tokenizer.ggml.model"));
                Assert.Equal(MergesOf(File.ReadAllText(Path.Combine(m.Folder, "tokenizer.json"))), src.TryGetArray<string>("tokenizer.ggml.merges"));
                var w = new EmbeddingGemma.Formats.GgufWriter();
                foreach (var (key, value) in src.Metadata)
                {
                    w.AddValue(key, key == "tokenizer.ggml.scores"
                        ? new EmbeddingGemma.Formats.GgufValue(EmbeddingGemma.Formats.GgufValueType.Array, Enumerable.Repeat(-1000f, src.TryGetArray<float>(key)!.Length).ToArray(), EmbeddingGemma.Formats.GgufValueType.Float32)
                        : value);
                }
                foreach (var (name, t) in src.Tensors)
                {
                    w.AddRawTensor(name, t.Type, t.Shape, src.GetBytes(t).ToArray());
                }
                w.Write(path);
            }
            using var folder = EmbeddingGemmaModel.Load(m.Folder);
            using var gguf = EmbeddingGemmaModel.Load(path);
            foreach (var text in VocabularyTexts.Where(t => t.Length > 0))
            {
                Assert.Equal(folder.Tokenizer!.EncodeToIds(text), gguf.Tokenizer!.EncodeToIds(text));
                Assert.Equal(folder.EncodeDocument(text), gguf.EncodeDocument(text));   // tolerance 0: same weights, same ids
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
