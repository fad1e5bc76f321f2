using System.Numerics;

namespace EmbeddingGemma.Training.Optimization;

/// <summary>
/// <c>torch.nn.utils.clip_grad_norm_(params, max_norm)</c> with the L2 norm: total = ‖(‖g_1‖, …, ‖g_n‖)‖₂,
/// coef = max_norm / (total + 1e-6), clamped to at most 1, and every gradient is multiplied by it (also when the
/// clamp leaves 1, as torch does). Norms are accumulated in double. Returns the total norm before clipping.
/// </summary>
public static class GradientClipping
{
    public static double ClipByGlobalNorm<T>(IReadOnlyList<T[]> gradients, double maxNorm) where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(gradients);
        double sumSquares = 0;
        foreach (var g in gradients)
        {
            double ss = 0;
            foreach (var x in g)
            {
                var d = double.CreateChecked(x);
                ss += d * d;
            }
            sumSquares += ss;
        }
        var total = Math.Sqrt(sumSquares);
        var coef = Math.Min(maxNorm / (total + 1e-6), 1.0);
        var c = T.CreateChecked(coef);
        foreach (var g in gradients)
        {
            for (var i = 0; i < g.Length; i++)
            {
                g[i] *= c;
            }
        }
        return total;
    }
}
