using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.Fast;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tests.Model;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Model.Fast;

/// <summary>quantize: types per tensor, loads back here, and llama.cpp (LLamaSharp) loads and embeds with it.</summary>
public class ModelQuantizerTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("mixed")]
    public void Quantized_file_loads_here_and_in_llama_cpp(string typeName)
    {
        var scheme = ModelQuantizer.Parse(typeName);
        var path = Path.Combine(TestPaths.NewTempDir(), $"tiny-{typeName}.gguf");
        var counts = ModelQuantizer.Quantize(TinyModels.Default.Folder, scheme, path);
        Assert.True(counts.ContainsKey(GgmlType.F32));   // norms stay F32
        using (var g = GgufFile.Open(path))
        {
            Assert.Equal(GgmlType.F32, g.Tensors["blk.0.attn_norm.weight"].Type);
            var attn = g.Tensors["blk.0.attn_q.weight"].Type;
            var ffn = g.Tensors["blk.0.ffn_down.weight"].Type;
            var embd = g.Tensors["token_embd.weight"].Type;
            var dense = g.Tensors["dense_2.weight"].Type;
            var (a, f) = scheme switch
            {
                QuantizationScheme.Q8_0 => (GgmlType.Q8_0, GgmlType.Q8_0),
                QuantizationScheme.Q4_0 => (GgmlType.Q4_0, GgmlType.Q4_0),
                _ => (GgmlType.Q8_0, GgmlType.Q4_0),
            };
            Assert.Equal(a, attn);
            Assert.Equal(f, ffn);
            Assert.Equal(f, embd);
            Assert.Equal(f, dense);
        }

        var seqs = FastEncoderTests.Sequences(21, 5, TinyModels.Default.Config.VocabSize, 50);
        // The public path: the quantized file loads with its matrices in their stored types.
        using var model = EmbeddingGemmaModel.Load(path, new ModelLoadOptions { UseHub = false });
        Assert.Equal(scheme == QuantizationScheme.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q4_0, model.WeightType);
        Assert.Equal(ffnType(scheme), model.Weights.Layers[0].WGate.Type);
        var h = model.Config.HiddenSize;
        var ours = model.EncodeTokenIds(seqs.Select(s => s.ToArray()).ToList(), new EncodeOptions { Normalize = false }).SelectMany(v => v).ToArray();

        // Reference and fast engine on the same weight objects (pooled backbone).
        var pooledRef = new float[seqs.Length * h];
        new ReferenceEncoder(model.Weights).EncodePooled(seqs, pooledRef);
        var pooledFast = new float[seqs.Length * h];
        new FastSequenceEncoder(model.Weights).EncodePooled(seqs, pooledFast);
        var minRef = MinCos(pooledRef, pooledFast, h);

        var llama = LlamaCppOracle.Embed(path, seqs.Select(s => s.ToArray()).ToList());
        var minLlama = MinCos(llama.SelectMany(v => v).ToArray(), ours, h);
        output.WriteLine($"{typeName}: {string.Join(", ", counts.Select(kv => $"{kv.Key}×{kv.Value}"))}; fast vs reference (same weight objects) min cos {minRef:F6}; vs llama.cpp on the same file min cos {minLlama:F6}");
        Assert.True(minRef >= NumericTolerances.CosineQuantized, $"vs reference {minRef}");
        Assert.True(minLlama >= NumericTolerances.CosineQuantized, $"vs llama.cpp {minLlama}");
    }

    private static GgmlType ffnType(QuantizationScheme scheme) => scheme == QuantizationScheme.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q4_0;

    private static double MinCos(float[] a, float[] b, int h)
    {
        var min = 1.0;
        for (var i = 0; i < a.Length / h; i++)
        {
            double d = 0, na = 0, nb = 0;
            for (var c = 0; c < h; c++)
            {
                d += (double)a[i * h + c] * b[i * h + c];
                na += (double)a[i * h + c] * a[i * h + c];
                nb += (double)b[i * h + c] * b[i * h + c];
            }
            min = Math.Min(min, d / Math.Sqrt(na * nb));
        }
        return min;
    }
}
