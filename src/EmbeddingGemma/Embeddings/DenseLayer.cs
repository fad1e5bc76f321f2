using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Embeddings;

/// <summary>
/// A sentence-transformers Dense module of EmbeddingGemma (2_Dense 768→3072, 3_Dense 3072→768): y = x Wᵀ, no bias,
/// identity activation (spec §3; the heads early llama.cpp GGUFs and TEI local folders forgot). Runs batched through
/// <see cref="WeightMatrix"/> in the stored type, like every other matrix of the model.
/// </summary>
public sealed class DenseLayer
{
    /// <summary>A Dense layer over <paramref name="weight"/> [out, in].</summary>
    public DenseLayer(string name, WeightMatrix weight)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(weight);
        Name = name;
        Weight = weight;
        weight.PackForProducts();
    }

    /// <summary>The module's folder name (<c>2_Dense</c>, <c>3_Dense</c>).</summary>
    public string Name { get; }

    /// <summary>The weight [OutFeatures, InFeatures].</summary>
    public WeightMatrix Weight { get; }

    public int InFeatures => Weight.Cols;

    public int OutFeatures => Weight.Rows;

    /// <summary>output[rows, OutFeatures] = input[rows, InFeatures] · Wᵀ.</summary>
    public void Forward(ReadOnlySpan<float> input, int rows, Span<float> output, int threads = 0, KernelSet? kernels = null) =>
        Weight.MatMul(input, rows, output, threads, kernels);
}
