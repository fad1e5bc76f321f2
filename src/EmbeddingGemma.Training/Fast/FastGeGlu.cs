namespace EmbeddingGemma.Training.Fast;

/// <summary>fp32 backward of op 9 (GeGLU with gelu_tanh), the formulas of <see cref="Reference.GeGlu"/> in float.</summary>
public static class FastGeGlu
{
    private const float Sqrt2OverPi = 0.7978845608028654f;

    /// <summary>Adds <c>da⊙u⊙gelu'(g)</c> to dg and <c>da⊙gelu(g)</c> to du.</summary>
    public static void Backward(ReadOnlySpan<float> da, ReadOnlySpan<float> g, ReadOnlySpan<float> u, Span<float> dg, Span<float> du)
    {
        for (var i = 0; i < da.Length; i++)
        {
            var x = g[i];
            var t = MathF.Tanh(Sqrt2OverPi * (x + 0.044715f * x * x * x));
            var gelu = 0.5f * x * (1f + t);
            var dgelu = 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * Sqrt2OverPi * (1f + 0.134145f * x * x);
            du[i] += da[i] * gelu;
            dg[i] += da[i] * u[i] * dgelu;
        }
    }
}
