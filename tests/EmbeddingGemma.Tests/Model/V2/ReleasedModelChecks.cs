using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model.V2;

namespace EmbeddingGemma.Tests.Model.V2;

/// <summary>
/// Checks of the RELEASED EmbeddingGemma 2 files (spec2 §9 (c)), run only when <c>EMBEDDINGGEMMA2_MODEL</c> names a local
/// copy (the google/embeddinggemma-2 folder or its GGUF); without it the test returns at once (no download here).
/// </summary>
public sealed class ReleasedModelChecks
{
    // spec2 §2.4 (NUC §Tensors), bf16 values of layer_scalar, layers 0..23
    private static readonly float[] LayerScalars =
        [0.3906f, 0.1689f, 0.9375f, 0.8711f, 0.6914f, 0.457f, 0.2256f, 0.9141f, 0.8672f, 0.8086f, 0.5547f, 0.3809f,
         0.7734f, 0.8047f, 0.5f, 0.7383f, 0.3594f, 0.9492f, 0.7031f, 0.9688f, 0.9609f, 0.9531f, 0.8711f, 0.1147f];

    [Fact]
    public void ReleasedFilesMatchTheSpec()
    {
        var path = Environment.GetEnvironmentVariable("EMBEDDINGGEMMA2_MODEL");
        if (string.IsNullOrEmpty(path))
        {
            return;   // not available offline
        }
        using var w = EmbeddingGemma2Weights.Load(path);
        Assert.Equal(413, w.Files.Tensors.Count);                       // 24 x 17 + 5 text tensors
        Assert.Equal(271_002_648, w.ParameterCount);
        Assert.Equal([5, 11, 17, 23], Enumerable.Range(0, 24).Where(l => !w.Config.IsSlidingLayer(l)));
        for (var l = 0; l < 24; l++)
        {
            Assert.Equal(LayerScalars[l], w.Layers[l].LayerScalar, 2e-3f);
        }
        Assert.InRange(w.Layers[0].QNormGain.Average(), 1.0, 1.05);      // attn_q_norm ≡ 1.0234
        Assert.InRange(w.Layers[0].KNormGain.Average(), 0.10, 0.15);     // attn_k_norm ≡ 0.1221 (plain w, not 1 + w)
        using var model = EmbeddingGemmaModel.Load(path);
        Assert.Equal([2, 23391, 1902, 1], model.Tokenize("hello world").Ids);
        Assert.Equal(768, model.EncodeQuery("Which planet is known as the Red Planet?").Length);
    }
}
