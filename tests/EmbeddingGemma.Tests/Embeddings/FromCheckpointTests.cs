using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Embeddings;

/// <summary><see cref="EmbeddingGemmaModel.FromCheckpoint"/>: a model from tensors in memory embeds exactly as the folder written from them.</summary>
public sealed class FromCheckpointTests
{
    [Fact]
    public void InMemoryModelEqualsTheWrittenFolderAndOwnsACopy()
    {
        var ckpt = RandomModel.Create("tiny", seed: 17);
        var dir = TestPaths.NewTempDir("eg-fromckpt");
        ckpt.WriteHuggingFaceFolder(dir);
        using var folder = EmbeddingGemmaModel.Load(dir, new ModelLoadOptions { UseHub = false });
        using var memory = EmbeddingGemmaModel.FromCheckpoint(ckpt);
        string[] texts = ["a short text", "another, somewhat longer text with more tokens in it"];
        var opts = new EncodeOptions { Task = "semantic_similarity" };
        var a = folder.Encode(texts, opts);
        var b = memory.Encode(texts, opts);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.True(a[i].AsSpan().SequenceEqual(b[i]), $"text {i}");
        }
        Assert.Equal(folder.Dimensions, memory.Dimensions);
        Assert.Equal(folder.Prompts.Count, memory.Prompts.Count);
        // the model holds a copy: changing the checkpoint's arrays afterwards does not change its vectors
        foreach (var t in ckpt.Tensors.Where(t => t.Name.Contains("q_proj", StringComparison.Ordinal)))
        {
            Array.Fill(t.Values, 0.5f);
        }
        Assert.True(memory.Encode(texts[0], opts).AsSpan().SequenceEqual(b[0]));
        using var changed = EmbeddingGemmaModel.FromCheckpoint(ckpt);
        Assert.False(changed.Encode(texts[0], opts).AsSpan().SequenceEqual(b[0]));
    }

    [Fact]
    public void AMissingTensorIsNamed()
    {
        var ckpt = RandomModel.Create("tiny", seed: 17);
        var broken = new ModelCheckpoint { Config = ckpt.Config, Tensors = ckpt.Tensors.Where(t => t.Name != "layers.1.mlp.up_proj.weight").ToList(), TokenizerJson = ckpt.TokenizerJson };
        var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.FromCheckpoint(broken));
        Assert.Contains("layers.1.mlp.up_proj.weight", e.Message, StringComparison.Ordinal);
    }
}
