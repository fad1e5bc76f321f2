using EmbeddingGemma.Testing;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Tests.Tokenization;

public class GemmaTokenizerTests
{
    [Fact]
    public void Hello_world_gives_the_published_ids()
    {
        // llama.cpp contributor notes vs the HF model (embeddinggemma-spec.md §5): <bos> Hello ▁world <eos>.
        Assert.Equal([2, 9259, 1902, 1], Gemma3Tokenizers.Ours.EncodeToIds("Hello world"));
    }

    [Fact]
    public void Lowercase_hello_has_no_prefix_space()
    {
        Assert.Equal([23391], Gemma3Tokenizers.Ours.EncodeToIds("hello", addSpecialTokens: false));
    }

    [Fact]
    public void Special_ids_and_sizes()
    {
        var t = Gemma3Tokenizers.Ours;
        Assert.Equal((0, 1, 2, 3), (t.PadId, t.EosId, t.BosId, t.UnkId));
        Assert.Equal(262144, t.VocabularySize);
        Assert.Equal("▁world", t.IdToToken(1902));
        Assert.Equal(1902, t.TokenToId("▁world"));
        Assert.Null(t.TokenToId("<image_soft_token>"));
    }
}
