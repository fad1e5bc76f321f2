using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Numerics;

/// <summary>
/// The one home for vector math on embeddings: dot products, norms, L2 normalisation, cosine similarity, Matryoshka
/// truncation, squared distances, axpy and the int8 quantize/dot pair of search indexes. Every method runs on a
/// <see cref="KernelSet"/> (default <see cref="KernelCatalog.Default"/>, so <c>EMBEDDINGGEMMA_KERNELS=scalar</c>
/// reaches the pipeline's post-processing, search scans and evaluation alike); each kernel has a scalar reference
/// and vector variants tested against it (tests/EmbeddingGemma.Tests/Numerics/VectorOpsTests.cs).
/// </summary>
public static class VectorOps
{
    /// <summary>Σ x[i]·y[i] (float32; cosine for unit vectors).</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, KernelSet? kernels = null) =>
        (kernels ?? KernelCatalog.Default).Dot(x, y);

    /// <summary>Exact Σ x[i]·y[i] over int8 vectors (the coarse scan of int8 indexes).</summary>
    public static int DotInt8(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y, KernelSet? kernels = null) =>
        (kernels ?? KernelCatalog.Default).DotInt8(x, y);

    /// <summary>Σ (x[i] − y[i])².</summary>
    public static float SquaredDistance(ReadOnlySpan<float> x, ReadOnlySpan<float> y, KernelSet? kernels = null) =>
        (kernels ?? KernelCatalog.Default).SquaredDistance(x, y);

    /// <summary>destination[i] += alpha·x[i].</summary>
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> destination, KernelSet? kernels = null) =>
        (kernels ?? KernelCatalog.Default).Axpy(alpha, x, destination);

    /// <summary>‖x‖₂.</summary>
    public static float L2Norm(ReadOnlySpan<float> x, KernelSet? kernels = null) =>
        MathF.Sqrt((kernels ?? KernelCatalog.Default).Dot(x, x));

    /// <summary>
    /// x ← x / max(‖x‖₂, 1e-12) in place (F.normalize p=2, the sentence-transformers Normalize module; a zero vector
    /// stays zero). Returns ‖x‖₂ before scaling.
    /// </summary>
    public static float L2Normalize(Span<float> x, KernelSet? kernels = null) =>
        (kernels ?? KernelCatalog.Default).L2Normalize(x, x);

    /// <summary>Cosine similarity; 0 when either vector is zero.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b, KernelSet? kernels = null)
    {
        CheckSameLength(a.Length, b.Length);
        var k = kernels ?? KernelCatalog.Default;
        return CosineOfDots(k.Dot(a, b), k.Dot(a, a), k.Dot(b, b));
    }

    /// <summary>Cosine similarity matrix [a.Count, b.Count]; element [i, j] equals <c>Cosine(a[i], b[j])</c> exactly.</summary>
    public static float[,] CosineMatrix(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b, KernelSet? kernels = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var k = kernels ?? KernelCatalog.Default;
        var bb = new float[b.Count];
        for (var j = 0; j < b.Count; j++)
        {
            bb[j] = k.Dot(b[j], b[j]);
        }
        var m = new float[a.Count, b.Count];
        for (var i = 0; i < a.Count; i++)
        {
            var aa = k.Dot(a[i], a[i]);
            for (var j = 0; j < b.Count; j++)
            {
                CheckSameLength(a[i].Length, b[j].Length);
                m[i, j] = CosineOfDots(k.Dot(a[i], b[j]), aa, bb[j]);
            }
        }
        return m;
    }

    /// <summary>
    /// Matryoshka: the first <paramref name="dimensions"/> values, re-normalised when <paramref name="normalize"/>
    /// (model card: truncate, then normalise again). A zero prefix stays zero.
    /// </summary>
    public static float[] Truncate(ReadOnlySpan<float> vector, int dimensions, bool normalize = true, KernelSet? kernels = null)
    {
        if (dimensions < 1 || dimensions > vector.Length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Dimensions must be between 1 and {vector.Length} (trained sizes 768, 512, 256, 128), got {dimensions}.");
        }
        var r = vector[..dimensions].ToArray();
        if (normalize)
        {
            L2Normalize(r, kernels);
        }
        return r;
    }

    /// <summary>
    /// Symmetric int8 quantization of one vector (scale = max|x|/127; see <see cref="KernelSet.QuantizeInt8"/>);
    /// returns the scale, so x[i] ≈ destination[i]·scale within half a step.
    /// </summary>
    public static float QuantizeInt8(ReadOnlySpan<float> x, Span<sbyte> destination, KernelSet? kernels = null) =>
        (kernels ?? KernelCatalog.Default).QuantizeInt8(x, destination);

    // The product of the squared norms in double: exact (two 24-bit mantissas), so Cosine(x, x) is exactly 1 and
    // nothing overflows or underflows for any finite float input.
    private static float CosineOfDots(float ab, float aa, float bb) =>
        aa == 0 || bb == 0 ? 0f : (float)(ab / Math.Sqrt((double)aa * bb));

    private static void CheckSameLength(int a, int b)
    {
        if (a != b)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vectors of different lengths ({a} and {b}).");
        }
    }
}
