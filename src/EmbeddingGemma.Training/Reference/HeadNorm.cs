namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 4, q_norm / k_norm: op 2 applied to every head row of <c>head_dim</c> values, one weight shared by all heads
/// (HF <c>Gemma3Attention</c>: <c>q_norm(q.view(..., head_dim))</c>; spec §2.3). v gets no norm. Backward: as op 2,
/// with dw summed over tokens and heads.
/// </summary>
public static class HeadNorm
{
    /// <summary>x, y: [tokens, heads, headDim]; rInv: [tokens·heads].</summary>
    public static void Forward(ReadOnlySpan<double> x, int tokens, int heads, int headDim, ReadOnlySpan<double> w, double eps, Span<double> y, Span<double> rInv) =>
        RmsNorm.Forward(x, tokens * heads, headDim, w, eps, y, rInv);

    /// <summary>Adds to <paramref name="dx"/> and <paramref name="dw"/> (summed over tokens and heads).</summary>
    public static void Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> rInv, int tokens, int heads, int headDim,
        ReadOnlySpan<double> w, Span<double> dx, Span<double> dw) =>
        RmsNorm.Backward(dy, x, rInv, tokens * heads, headDim, w, dx, dw);
}
