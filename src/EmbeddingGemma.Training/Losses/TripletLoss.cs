namespace EmbeddingGemma.Training.Losses;

/// <summary>
/// sentence-transformers <c>TripletLoss</c> with its defaults (Euclidean distance, margin 5; training.md loss 2 option):
/// <c>L = (1/B) Σ_i max(0, ‖a_i − p_i + ε‖ − ‖a_i − n_i + ε‖ + margin)</c>, where ε = 1e-6 is torch's
/// <c>F.pairwise_distance</c> eps (added to the difference). On the raw embeddings (unit vectors from the model).
/// </summary>
public sealed class TripletLoss(double margin = 5.0) : EmbeddingLoss
{
    /// <summary>torch.nn.functional.pairwise_distance's default eps.</summary>
    public const double PairwiseEps = 1e-6;

    public double Margin { get; } = margin;

    public override string Name => "TripletLoss";

    public override double Compute(IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, IReadOnlyList<double[][]> gradients)
    {
        var b = CheckBatch(Name, columns, labels, 3, 3, needsLabels: false);
        ArgumentNullException.ThrowIfNull(gradients);
        double loss = 0;
        for (var i = 0; i < b; i++)
        {
            var a = columns[0][i];
            var dp = Distance(a, columns[1][i], out var diffP);
            var dn = Distance(a, columns[2][i], out var diffN);
            var arg = dp - dn + Margin;
            if (arg > 0)
            {
                loss += arg / b;
                for (var k = 0; k < a.Length; k++)
                {
                    var gp = diffP[k] / dp / b;
                    var gn = diffN[k] / dn / b;
                    gradients[0][i][k] += gp - gn;
                    gradients[1][i][k] -= gp;
                    gradients[2][i][k] += gn;
                }
            }
        }
        return loss;
    }

    private static double Distance(double[] x, double[] y, out double[] diff)
    {
        diff = new double[x.Length];
        double ss = 0;
        for (var k = 0; k < x.Length; k++)
        {
            diff[k] = x[k] - y[k] + PairwiseEps;
            ss += diff[k] * diff[k];
        }
        return Math.Sqrt(ss);
    }
}
