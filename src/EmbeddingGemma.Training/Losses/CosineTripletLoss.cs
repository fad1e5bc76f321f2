namespace EmbeddingGemma.Training.Losses;

/// <summary>
/// The article's cosine triplet margin loss: <c>L = (1/B) Σ_i max(0, cos(a_i, n_i) − cos(a_i, p_i) + margin)</c>,
/// margin 0.5 (training.md loss 2). Columns: anchor, positive, negative. At the hinge (argument exactly 0) the
/// gradient is 0, as torch's relu.
/// </summary>
public sealed class CosineTripletLoss(double margin = 0.5) : EmbeddingLoss
{
    public double Margin { get; } = margin;

    public override string Name => "CosineTripletLoss";

    public override double Compute(IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, IReadOnlyList<double[][]> gradients)
    {
        var b = CheckBatch(Name, columns, labels, 3, 3, needsLabels: false);
        ArgumentNullException.ThrowIfNull(gradients);
        double loss = 0;
        for (var i = 0; i < b; i++)
        {
            var na = Cosine.Normalize(columns[0][i], out var normA);
            var np = Cosine.Normalize(columns[1][i], out var normP);
            var nn = Cosine.Normalize(columns[2][i], out var normN);
            var arg = Cosine.Dot(na, nn) - Cosine.Dot(na, np) + Margin;
            if (arg > 0)
            {
                loss += arg / b;
                Cosine.Backward(1.0 / b, na, normA, nn, normN, gradients[0][i], gradients[2][i]);
                Cosine.Backward(-1.0 / b, na, normA, np, normP, gradients[0][i], gradients[1][i]);
            }
        }
        return loss;
    }
}
