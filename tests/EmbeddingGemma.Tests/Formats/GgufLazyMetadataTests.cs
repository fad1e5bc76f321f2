using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Formats;

/// <summary>Large GGUF metadata arrays (a vocabulary) are validated at open and decoded on access, not held.</summary>
public sealed class GgufLazyMetadataTests
{
    [Fact]
    public void Large_arrays_read_back_exactly_in_file_order_on_every_access()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "lazy.gguf");
        var tokens = Enumerable.Range(0, 10_000).Select(i => $"▁piece{i}").ToArray();
        var scores = Enumerable.Range(0, 10_000).Select(i => -i * 0.5f).ToArray();
        new GgufWriter()
            .AddString("general.architecture", "test")
            .AddStrings("tokenizer.ggml.tokens", tokens)
            .AddUInt32("small", 7)
            .AddFloats("tokenizer.ggml.scores", scores)
            .AddInts("short.list", [1, 2, 3])
            .AddTensor("t", GgmlType.F32, [4], [1f, 2f, 3f, 4f])
            .Write(path);
        using var g = GgufFile.Open(path);
        Assert.Equal(["general.architecture", "tokenizer.ggml.tokens", "small", "tokenizer.ggml.scores", "short.list"], g.Metadata.Keys);
        for (var access = 0; access < 2; access++)
        {
            Assert.Equal(tokens, g.TryGetArray<string>("tokenizer.ggml.tokens"));
            Assert.Equal(scores, g.TryGetArray<float>("tokenizer.ggml.scores"));
        }
        Assert.Equal(7u, g.GetUInt("small"));
        Assert.Equal(new[] { 1, 2, 3 }, g.TryGetArray<int>("short.list"));
        Assert.Equal(5, g.Metadata.Count);
        Assert.Equal(5, g.Metadata.Count());
        Assert.True(g.Metadata.ContainsKey("tokenizer.ggml.scores"));
        Assert.False(g.Metadata.ContainsKey("missing"));
    }

    [Fact]
    public void A_truncated_large_array_is_still_refused_at_open()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "cut.gguf");
        new GgufWriter().AddString("general.architecture", "test").AddStrings("tokenizer.ggml.tokens", Enumerable.Range(0, 9_000).Select(i => $"p{i}").ToArray()).Write(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<EmbeddingGemmaException>(() => GgufFile.Open(path).Dispose());
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("not a valid GGUF file", e.Message, StringComparison.Ordinal);
    }
}
