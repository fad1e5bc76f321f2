namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 14, <c>y = z / max(‖z‖, 1e-12)</c> (sentence-transformers <c>Normalize</c> = <c>F.normalize(p=2)</c>; spec §3).
/// Backward: <c>dz += (dy − y(y·dy)) / ‖z‖</c> when ‖z‖ &gt; 1e-12, else <c>dz += dy / 1e-12</c> (the clamp is constant).
/// </summary>
public static class L2Normalize
{
    public const double Epsilon = 1e-12;

    /// <summary>Writes y and returns ‖z‖.</summary>
    public static double Forward(ReadOnlySpan<double> z, Span<double> y)
    {
        double ss = 0;
        foreach (var v in z)
        {
            ss += v * v;
        }
        var norm = Math.Sqrt(ss);
        var denom = Math.Max(norm, Epsilon);
        for (var i = 0; i < z.Length; i++)
        {
            y[i] = z[i] / denom;
        }
        return norm;
    }

    /// <summary>Adds to <paramref name="dz"/>; <paramref name="y"/> and <paramref name="norm"/> from the forward.</summary>
    public static void Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> y, double norm, Span<double> dz)
    {
        if (norm <= Epsilon)
        {
            for (var i = 0; i < dy.Length; i++)
            {
                dz[i] += dy[i] / Epsilon;
            }
            return;
        }
        double dot = 0;
        for (var i = 0; i < dy.Length; i++)
        {
            dot += y[i] * dy[i];
        }
        for (var i = 0; i < dy.Length; i++)
        {
            dz[i] += (dy[i] - y[i] * dot) / norm;
        }
    }
}
