namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// One variant's implementation of every numeric op the engine needs. BCL-shaped: inputs as
/// <see cref="ReadOnlySpan{T}"/>, the destination last, lengths checked up front (then the loops do not check), no
/// allocation. Callers make one call per row or row block, never one per element. The scalar variant
/// (<see cref="ScalarKernels"/>) is the reference; the others are tested against it (tests/…/Numerics).
/// </summary>
public abstract class KernelSet
{
    /// <summary>The technique this set uses.</summary>
    public abstract KernelVariant Variant { get; }

    /// <summary>
    /// The int8 GEMM this set runs for Q4_0/Q8_0 weights: <see cref="Int8GemmKernel.RowDot"/> (row-by-row block dot
    /// products, <see cref="GemmQ8Tile"/>; the scalar reference and the 128-bit set) or
    /// <see cref="Int8GemmKernel.Interleaved"/> (weights packed in 8-row groups, <c>Q8Interleaved</c>; the 256/512-bit
    /// sets on AVX2+FMA). Both give exact int8 block sums; the float steps are tested against each other.
    /// </summary>
    public virtual Int8GemmKernel Int8Gemm => Int8GemmKernel.RowDot;

    /// <summary>The set's name with its int8 GEMM, e.g. <c>Vector256 (int8: Interleaved)</c>.</summary>
    public string Description => $"{Variant} (int8: {Int8Gemm})";

    /// <summary>Σ x[i]·y[i].</summary>
    public abstract float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y);

    /// <summary>Σ (x[i] − y[i])² (k-means and nearest-neighbour distances).</summary>
    public abstract float SquaredDistance(ReadOnlySpan<float> x, ReadOnlySpan<float> y);

    /// <summary>
    /// Σ x[i]·y[i] over int8 vectors, exact in int32 (|x[i]·y[i]| ≤ 2¹⁴, so no overflow below 131072 elements): the
    /// coarse scan of int8-quantized search indexes. Every variant returns the same integer.
    /// </summary>
    public abstract int DotInt8(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y);

    /// <summary>destination[i] += alpha·x[i].</summary>
    public abstract void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> destination);

    /// <summary>destination[i] = x[i] + y[i] (destination may alias x or y).</summary>
    public abstract void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination);

    /// <summary>destination[i] = x[i]·scale (destination may alias x).</summary>
    public abstract void Scale(ReadOnlySpan<float> x, float scale, Span<float> destination);

    /// <summary>Largest element (−∞ for an empty span).</summary>
    public abstract float Max(ReadOnlySpan<float> x);

    /// <summary>Largest |x[i]| (0 for an empty span).</summary>
    public abstract float MaxAbs(ReadOnlySpan<float> x);

    /// <summary>
    /// Gemma RMSNorm: destination[i] = x[i] · (mean(x²) + eps)^-½ · gain[i], where <paramref name="gain"/> is the
    /// effective gain 1 + w (HF stores w; GGUF stores 1 + w). Sum of squares in float32 (spec §2.1).
    /// </summary>
    public abstract void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float eps, Span<float> destination);

    /// <summary>
    /// Backward of <see cref="RmsNorm"/> for one row (training), with <paramref name="inverseRms"/> = (mean(x²) + eps)^-½
    /// from the forward and x̂ = x·r: adds dy[i]·x̂[i] to <paramref name="gainGradient"/>[i] (skipped when empty) and
    /// writes dx[i] = r·(dy[i]·gain[i] − x̂[i]·mean(dy⊙gain⊙x̂)).
    /// </summary>
    public abstract void RmsNormBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float inverseRms, Span<float> gainGradient, Span<float> dx);

    /// <summary>Fused post-norm and residual add: residual[i] += RmsNorm(x; gain)[i] (Gemma's post-attention/-FFN norms).</summary>
    public abstract void RmsNormAddTo(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float eps, Span<float> residual);

    /// <summary>GeGLU: destination[i] = gelu_tanh(gate[i])·up[i], gelu_tanh(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public abstract void GeluTanhMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> destination);

    /// <summary>
    /// Backward of <see cref="GeluTanhMul"/> (training): given da = ∂L/∂(gelu_tanh(g)⊙u), writes
    /// dGate[i] = da[i]·up[i]·gelu'(g[i]) and dUp[i] = da[i]·gelu_tanh(g[i]), with
    /// gelu'(x) = ½(1 + tanh z) + ½x(1 − tanh²z)·√(2/π)(1 + 0.134145x²), z = √(2/π)(x + 0.044715x³).
    /// </summary>
    public abstract void GeluTanhMulBackward(ReadOnlySpan<float> da, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dGate, Span<float> dUp);

    /// <summary>
    /// NeoX (rotate-half) RoPE in place on one head of width 2h: for i &lt; h,
    /// (x[i], x[i+h]) ← (x[i]·cos[i] − x[i+h]·sin[i], x[i+h]·cos[i] + x[i]·sin[i]).
    /// </summary>
    public abstract void RopeNeox(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin);

    /// <summary>destination[i] = exp(x[i] − shift); returns Σ destination (softmax numerator and denominator).</summary>
    public abstract float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> destination);

    /// <summary>Numerically stable softmax.</summary>
    public void Softmax(ReadOnlySpan<float> x, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        if (x.Length == 0)
        {
            return;
        }
        var sum = ExpShifted(x, Max(x), destination);
        Scale(destination, 1f / sum, destination);
    }

    /// <summary>
    /// destination = x / max(‖x‖₂, <see cref="NormFloor"/>) (PyTorch's F.normalize, the sentence-transformers
    /// Normalize module; a zero vector stays zero); destination may alias x. Returns ‖x‖₂ before scaling.
    /// </summary>
    public float L2Normalize(ReadOnlySpan<float> x, Span<float> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        var norm = MathF.Sqrt(Dot(x, x));
        Scale(x, 1f / MathF.Max(norm, NormFloor), destination);
        return norm;
    }

    /// <summary>The ε of <see cref="L2Normalize"/> (F.normalize's default eps).</summary>
    public const float NormFloor = 1e-12f;

    /// <summary>
    /// Symmetric per-vector int8 quantization for search indexes: scale = max|x|/127 (1 for a zero vector),
    /// destination[i] = clamp(round_half_even(x[i]/scale), −127, 127); returns the scale. The rounding loop is shared
    /// by all variants (only max|x| is a variant kernel, and it is exact), so quantized rows are bit-identical
    /// whichever variant wrote them.
    /// </summary>
    public float QuantizeInt8(ReadOnlySpan<float> x, Span<sbyte> destination)
    {
        Check.SameLength(x.Length, destination.Length, nameof(destination));
        var max = MaxAbs(x);
        var scale = max > 0 ? max / 127f : 1f;
        var inv = 1f / scale;
        for (var i = 0; i < x.Length; i++)
        {
            destination[i] = (sbyte)Math.Clamp(MathF.Round(x[i] * inv), -127f, 127f);
        }
        return scale;
    }

    /// <summary>
    /// fp32 GEMM tile C[i, j] = Σ_k A[i, k]·W[j, k] for i &lt; m, j &lt; n (weights row-major [out, in] as in
    /// PyTorch/GGUF). Each C[i, j] is computed by the same sequence of float operations whatever m, n and the tile's
    /// position, so results do not depend on how callers split the work (batch composition, threads).
    /// </summary>
    public abstract void GemmTile(ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> w, int ldw, Span<float> c, int ldc, int m, int n, int k);

    /// <summary>
    /// Strided fp32 GEMM for training: C[i, j] (+)= Σ_t A(i, t)·B(t, j) for i &lt; m, j &lt; n, t &lt; k, where
    /// A(i, t) = a[i·aRowStride + t·aColStride] and B(t, j) = b[t·bRowStride + j·bColStride] (so either operand can be
    /// read transposed in place) and C is row-major with row stride <paramref name="ldc"/>. Every output is one FMA
    /// chain in k order, <c>acc = accumulate ? C[i, j] : 0; acc = fma(A(i, t), B(t, j), acc)</c> for t = 0, 1, …,
    /// so all variants give the same bits as the scalar reference, whatever the shape, the output's place in a tile or
    /// how callers split C. The vector variants pack both operands into register-tile panels (<c>PackedGemm</c>).
    /// </summary>
    public abstract void GemmPacked(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int bRowStride, int bColStride,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate);

    /// <summary>
    /// Quantizes one activation row to Q8_0 blocks as llama.cpp does: per 32 values, d = amax/127 rounded to fp16
    /// (stored in <paramref name="scales"/> as float), q = round_half_even(x·127/amax).
    /// </summary>
    public abstract void QuantizeRowQ8(ReadOnlySpan<float> x, Span<sbyte> quants, Span<float> scales);

    /// <summary>
    /// Int8 GEMM tile over Q8 blocks: C[i, j] = Σ_b (da[i, b]·dw[j, b])·Σ_t aq[i, 32b+t]·wq[j, 32b+t]. Rows of
    /// <paramref name="aq"/>/<paramref name="wq"/> are k bytes apart, rows of the scales k/32 apart. Same
    /// per-element determinism as <see cref="GemmTile"/>.
    /// </summary>
    public abstract void GemmQ8Tile(ReadOnlySpan<sbyte> aq, ReadOnlySpan<float> ad, ReadOnlySpan<sbyte> wq, ReadOnlySpan<float> wd, Span<float> c, int ldc, int m, int n, int k);

    /// <summary>BF16 bits to float32.</summary>
    public abstract void Bf16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination);

    /// <summary>IEEE half bits to float32.</summary>
    public virtual void F16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        Check.SameLength(source.Length, destination.Length, nameof(destination));
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = Quantization.ScalarQuant.F16ToFloat(source[i]);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Variant.ToString();

    private protected static void CheckGemm(int aLength, int lda, int wLength, int ldw, int cLength, int ldc, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0 || lda < k || ldw < k || ldc < n)
        {
            throw new ArgumentException($"GEMM shape m={m} n={n} k={k} with strides lda={lda} ldw={ldw} ldc={ldc} is invalid.");
        }
        if (m > 0 && (long)(m - 1) * lda + k > aLength)
        {
            throw new ArgumentException($"A holds {aLength} values; m={m}, lda={lda}, k={k} need {(long)(m - 1) * lda + k}.", "a");
        }
        if (n > 0 && (long)(n - 1) * ldw + k > wLength)
        {
            throw new ArgumentException($"W holds {wLength} values; n={n}, ldw={ldw}, k={k} need {(long)(n - 1) * ldw + k}.", "w");
        }
        if (m > 0 && n > 0 && (long)(m - 1) * ldc + n > cLength)
        {
            throw new ArgumentException($"C holds {cLength} values; m={m}, ldc={ldc}, n={n} need {(long)(m - 1) * ldc + n}.", "c");
        }
    }

    private protected static void CheckGemmPacked(int aLength, int aRowStride, int aColStride, int bLength, int bRowStride, int bColStride,
        int cLength, int ldc, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0 || aRowStride < 0 || aColStride < 0 || bRowStride < 0 || bColStride < 0 || ldc < n)
        {
            throw new ArgumentException($"GEMM shape m={m} n={n} k={k} with strides A ({aRowStride}, {aColStride}), B ({bRowStride}, {bColStride}), ldc={ldc} is invalid.");
        }
        if (m > 0 && k > 0 && (long)(m - 1) * aRowStride + (long)(k - 1) * aColStride + 1 > aLength)
        {
            throw new ArgumentException($"A holds {aLength} values; m={m}, k={k} with strides ({aRowStride}, {aColStride}) need {(long)(m - 1) * aRowStride + (long)(k - 1) * aColStride + 1}.", "a");
        }
        if (n > 0 && k > 0 && (long)(k - 1) * bRowStride + (long)(n - 1) * bColStride + 1 > bLength)
        {
            throw new ArgumentException($"B holds {bLength} values; k={k}, n={n} with strides ({bRowStride}, {bColStride}) need {(long)(k - 1) * bRowStride + (long)(n - 1) * bColStride + 1}.", "b");
        }
        if (m > 0 && n > 0 && (long)(m - 1) * ldc + n > cLength)
        {
            throw new ArgumentException($"C holds {cLength} values; m={m}, ldc={ldc}, n={n} need {(long)(m - 1) * ldc + n}.", "c");
        }
    }

    private protected static void CheckQ8(int aqLength, int adLength, int wqLength, int wdLength, int cLength, int ldc, int m, int n, int k)
    {
        if (k % 32 != 0)
        {
            throw new ArgumentException($"Q8 GEMM needs k to be a multiple of 32, got {k}.", nameof(k));
        }
        CheckGemm(aqLength, k, wqLength, k, cLength, ldc, m, n, k);
        if ((long)m * (k / 32) > adLength || (long)n * (k / 32) > wdLength)
        {
            throw new ArgumentException($"Q8 GEMM scales too short: need {m * (k / 32)} and {n * (k / 32)}, got {adLength} and {wdLength}.");
        }
    }
}

/// <summary>Argument checks shared by the kernels (one throw site each).</summary>
internal static class Check
{
    public static void SameLength(int expected, int actual, string name)
    {
        if (expected != actual)
        {
            Throw(expected, actual, name);
        }
    }

    public static void AtLeast(int needed, int actual, string name)
    {
        if (actual < needed)
        {
            throw new ArgumentException($"'{name}' holds {actual} values; {needed} needed.", name);
        }
    }

    private static void Throw(int expected, int actual, string name) =>
        throw new ArgumentException($"'{name}' has length {actual}; {expected} expected.", name);
}
