namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 9, GeGLU: <c>a = gelu_tanh(g) ⊙ u</c> (HF <c>Gemma3MLP</c>: <c>down(act(gate(x)) * up(x))</c>, act =
/// <c>gelu_pytorch_tanh</c>; spec §2.3): <c>gelu(x) = ½x(1 + tanh z)</c>, <c>z = √(2/π)(x + 0.044715x³)</c>.
/// Backward (training.md row 9): <c>du = da ⊙ gelu(g)</c>; <c>dg = da ⊙ u ⊙ gelu'(g)</c>,
/// <c>gelu'(x) = ½(1 + tanh z) + ½x(1 − tanh²z)·√(2/π)(1 + 0.134145x²)</c>.
/// </summary>
public static class GeGlu
{
    private static readonly double Sqrt2OverPi = Math.Sqrt(2.0 / Math.PI);

    public static double Gelu(double x) => 0.5 * x * (1.0 + Math.Tanh(Sqrt2OverPi * (x + 0.044715 * x * x * x)));

    public static double GeluDerivative(double x)
    {
        var t = Math.Tanh(Sqrt2OverPi * (x + 0.044715 * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * Sqrt2OverPi * (1.0 + 0.134145 * x * x);
    }

    /// <summary>a[i] = gelu(g[i]) · u[i].</summary>
    public static void Forward(ReadOnlySpan<double> g, ReadOnlySpan<double> u, Span<double> a)
    {
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = Gelu(g[i]) * u[i];
        }
    }

    /// <summary>Adds to <paramref name="dg"/> and <paramref name="du"/>.</summary>
    public static void Backward(ReadOnlySpan<double> da, ReadOnlySpan<double> g, ReadOnlySpan<double> u, Span<double> dg, Span<double> du)
    {
        for (var i = 0; i < da.Length; i++)
        {
            du[i] += da[i] * Gelu(g[i]);
            dg[i] += da[i] * u[i] * GeluDerivative(g[i]);
        }
    }
}
