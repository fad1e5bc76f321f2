namespace EmbeddingGemma.Training.Losses;

/// <summary>
/// sentence-transformers <c>MultipleNegativesRankingLoss</c> (scale λ = 20, cosine; training.md loss 3): candidates C =
/// the positives, then every further column (hard negatives, e.g. a triplet's negative); <c>S = λ·cos(A, C)</c>;
/// <c>L = mean_i(logsumexp_j S_ij − S_ii)</c> (cross-entropy with label i). Needs batches without duplicates.
/// GradCache (CachedMNRL, loss 4) is this same loss on embeddings computed without activations, with the gradient
/// then backpropagated per mini-batch: see <see cref="GradientStep"/>.
/// </summary>
public sealed class MultipleNegativesRankingLoss(double scale = 20.0) : EmbeddingLoss
{
    public double Scale { get; } = scale;

    public override string Name => "MultipleNegativesRankingLoss";

    public override double Compute(IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, IReadOnlyList<double[][]> gradients)
    {
        var b = CheckBatch(Name, columns, labels, 2, int.MaxValue, needsLabels: false);
        ArgumentNullException.ThrowIfNull(gradients);
        var anchors = columns[0].Select(v => Cosine.Normalize(v, out _)).ToArray();
        var anchorNorms = columns[0].Select(Norm).ToArray();
        var cand = new List<(double[] Unit, double Norm, double[] Grad)>();
        for (var c = 1; c < columns.Count; c++)
        {
            for (var i = 0; i < b; i++)
            {
                cand.Add((Cosine.Normalize(columns[c][i], out var n), n, gradients[c][i]));
            }
        }
        var m = cand.Count;
        double loss = 0;
        var dAnchorUnit = new double[b][];
        var dCandUnit = cand.Select(x => new double[x.Unit.Length]).ToArray();
        var row = new double[m];
        for (var i = 0; i < b; i++)
        {
            var max = double.NegativeInfinity;
            for (var j = 0; j < m; j++)
            {
                row[j] = Scale * Cosine.Dot(anchors[i], cand[j].Unit);
                max = Math.Max(max, row[j]);
            }
            double sum = 0;
            for (var j = 0; j < m; j++)
            {
                sum += Math.Exp(row[j] - max);
            }
            var lse = max + Math.Log(sum);
            loss += (lse - row[i]) / b;
            dAnchorUnit[i] = new double[anchors[i].Length];
            for (var j = 0; j < m; j++)
            {
                // ∂L/∂S_ij = (softmax_ij − [i = j]) / B; S_ij = λ·â_i·ĉ_j.
                var dS = (Math.Exp(row[j] - lse) - (i == j ? 1.0 : 0.0)) / b * Scale;
                var u = cand[j].Unit;
                for (var k = 0; k < u.Length; k++)
                {
                    dAnchorUnit[i][k] += dS * u[k];
                    dCandUnit[j][k] += dS * anchors[i][k];
                }
            }
        }
        for (var i = 0; i < b; i++)
        {
            Reference.L2Normalize.Backward(dAnchorUnit[i], anchors[i], anchorNorms[i], gradients[0][i]);
        }
        for (var j = 0; j < m; j++)
        {
            Reference.L2Normalize.Backward(dCandUnit[j], cand[j].Unit, cand[j].Norm, cand[j].Grad);
        }
        return loss;
    }

    private static double Norm(double[] v) => Math.Sqrt(Cosine.Dot(v, v));
}
