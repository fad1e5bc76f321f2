namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 5, RoPE in the NeoX / rotate-half layout, full rotary dimension (HF <c>rotate_half</c>, llama.cpp
/// <c>LLAMA_ROPE_TYPE_NEOX</c>; spec §2.5): pairs (i, i + d/2) at position p rotate by φ = p·θ^(-2i/d), θ the layer's
/// base (10,000 sliding, 1,000,000 global). Angles exactly as the core's <c>RotaryEmbedding</c> (double).
/// Backward: the rotation is orthogonal, so dx = R(−φ)·dy. No state is kept.
/// </summary>
public static class Rope
{
    /// <summary>x, y: [positions, heads, headDim]; position p is the row index.</summary>
    public static void Forward(ReadOnlySpan<double> x, int positions, int heads, int headDim, double theta, Span<double> y) =>
        Rotate(x, positions, heads, headDim, theta, 1.0, y, accumulate: false);

    /// <summary>Adds R(−φ)·dy to <paramref name="dx"/>.</summary>
    public static void Backward(ReadOnlySpan<double> dy, int positions, int heads, int headDim, double theta, Span<double> dx) =>
        Rotate(dy, positions, heads, headDim, theta, -1.0, dx, accumulate: true);

    private static void Rotate(ReadOnlySpan<double> x, int positions, int heads, int headDim, double theta, double sign, Span<double> y, bool accumulate)
    {
        if (headDim % 2 != 0)
        {
            throw new ArgumentException($"RoPE needs an even head_dim, got {headDim}.", nameof(headDim));
        }
        var half = headDim / 2;
        for (var p = 0; p < positions; p++)
        {
            for (var i = 0; i < half; i++)
            {
                var angle = p * Math.Pow(theta, -2.0 * i / headDim);
                var (sin, cos) = Math.SinCos(angle);
                sin *= sign;
                for (var hh = 0; hh < heads; hh++)
                {
                    var o = (p * heads + hh) * headDim;
                    double a = x[o + i], b = x[o + i + half];
                    var ya = a * cos - b * sin;
                    var yb = b * cos + a * sin;
                    if (accumulate)
                    {
                        y[o + i] += ya;
                        y[o + i + half] += yb;
                    }
                    else
                    {
                        y[o + i] = ya;
                        y[o + i + half] = yb;
                    }
                }
            }
        }
    }
}
