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
}
