namespace EmbeddingGemma.Numerics;

/// <summary>
/// Named error budgets, each with the reason for its value. Kernel tests compare every variant against the scalar
/// reference with these; engine tests compare embeddings with the cosine budgets.
/// </summary>
public static class NumericTolerances
{
    /// <summary>
    /// Reductions (dot, sum of squares, GEMM outputs), relative to Σ|xᵢyᵢ|: float32 summation in a different order
    /// (vector lanes, FMA) has a worst-case error of n·2⁻²⁴ ≈ 1.5e-5 of Σ|terms| at n = 256; observed errors are far
    /// smaller (√n growth). 2e-5 covers the worst case at the lengths tested (≤ 256) and typical cases at k ≤ 4096.
    /// </summary>
    public const float ReductionRelative = 2e-5f;

    /// <summary>
    /// Elementwise results built from a few float32 operations plus one reduction (RMSNorm, RoPE, softmax, scaling
    /// by a reciprocal), relative to the magnitude of the value: a handful of roundings (≤ 8 ulp ≈ 5e-7) plus the
    /// reduction error of the normaliser.
    /// </summary>
    public const float ElementwiseRelative = 2e-5f;

    /// <summary>
    /// GELU-tanh and exp: the vector variants compute g·sigmoid(2u) with the runtime's vectorised exp (a few ulp) while
    /// the reference computes ½g(1 + tanh u); the two agree to ~1e-6 relative except where 1 + tanh u cancels, where
    /// the reference itself loses digits (absolute error ~1e-7·|g|).
    /// </summary>
    public const float TranscendentalRelative = 1e-5f;

    /// <summary>Absolute floor for <see cref="TranscendentalRelative"/> near zero (see there).</summary>
    public const float TranscendentalAbsolute = 1e-6f;

    /// <summary>fp32 fast engine vs fp32 reference encoder on random models: different summation orders only.</summary>
    public const double CosineFp32 = 0.999999;

    /// <summary>
    /// Quantized engine (Q8 activations, as llama.cpp) vs the reference run on the same dequantized weights: llama.cpp's
    /// own Q8_0 path sits at cos ≥ 0.9995 from exact activations (docs/oracles.md); 0.999 leaves room for Q4_0.
    /// </summary>
    public const double CosineQuantized = 0.999;
}
