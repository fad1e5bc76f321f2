using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Numerics;

/// <summary>
/// The one home for vector math on embeddings: dot products, norms, L2 normalisation, cosine similarity, Matryoshka
/// truncation, squared distances, axpy, the int8 quantize/dot pair of search indexes, and the output-precision
/// kernels (sign-bit packing, Hamming distance, range quantization) of <c>Embeddings.Precision</c>. Every method runs on a
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

    /// <summary>
    /// Sign bits packed 8 to a byte, as <c>numpy.packbits(x &gt; 0)</c>: element i goes to bit 7 - (i % 8) of byte i / 8
    /// (big-endian bit order, the first element in the top bit); the last byte is padded with zero bits. NaN and -0 give 0.
    /// <paramref name="destination"/> must hold exactly ceil(x.Length / 8) bytes.
    /// </summary>
    public static void PackSignBits(ReadOnlySpan<float> x, Span<byte> destination)
    {
        if (destination.Length != (x.Length + 7) / 8)
        {
            throw new ArgumentException($"destination has {destination.Length} bytes; {x.Length} values pack into {(x.Length + 7) / 8}.", nameof(destination));
        }
        destination.Clear();
        for (int i = 0; i < x.Length; i++)
        {
            if (x[i] > 0f)
            {
                destination[i >> 3] |= (byte)(0x80 >> (i & 7));
            }
        }
    }

    /// <summary>The number of differing bits of two packed bit vectors (Hamming distance).</summary>
    public static int HammingDistance(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        CheckSameLength(a.Length, b.Length);
        int d = 0, i = 0;
        for (; i + 8 <= a.Length; i += 8)
        {
            d += System.Numerics.BitOperations.PopCount(
                System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(a[i..]) ^ System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b[i..]));
        }
        for (; i < a.Length; i++)
        {
            d += System.Numerics.BitOperations.PopCount((uint)(a[i] ^ b[i]));
        }
        return d;
    }

    /// <summary>
    /// Scalar quantization with per-dimension ranges, sentence-transformers' int8/uint8 rule in float32 arithmetic:
    /// v = (x[i] - starts[i]) / steps[i] (minus <paramref name="offset"/>, 128 for int8, 0 for uint8), then numpy's
    /// float-to-8-bit cast on x86-64: <see cref="CastToByte"/>. No clipping: values outside the ranges wrap around,
    /// as in numpy. Returns how many values fell outside the 8-bit range (wrapped, or NaN from a zero step).
    /// </summary>
    public static int QuantizeWithRanges(ReadOnlySpan<float> x, ReadOnlySpan<float> starts, ReadOnlySpan<float> steps, float offset, Span<byte> destination)
    {
        CheckSameLength(x.Length, starts.Length);
        CheckSameLength(x.Length, steps.Length);
        CheckSameLength(x.Length, destination.Length);
        float lo = -offset, hi = 255f - offset;
        int outside = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float v = (x[i] - starts[i]) / steps[i] - offset;
            if (!(v > lo - 1f && v < hi + 1f))
            {
                outside++;
            }
            destination[i] = CastToByte(v);
        }
        return outside;
    }

    /// <summary>
    /// numpy's <c>astype(np.uint8)</c> / <c>astype(np.int8)</c> of a float on x86-64 (one byte, two's complement): the
    /// value truncated toward zero to a 32-bit integer (<c>cvttss2si</c>), whose low byte is kept; NaN, infinities and
    /// values outside the 32-bit range give the "integer indefinite" 0x80000000, so 0. E.g. 300.5 gives 44, -3.7 gives
    /// 253 (int8: -3), -0.9 gives 0.
    /// </summary>
    public static byte CastToByte(float v) =>
        v > -2147483649f && v < 2147483648f ? (byte)(int)v : (byte)0;

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
