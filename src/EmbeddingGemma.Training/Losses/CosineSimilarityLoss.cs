namespace EmbeddingGemma.Training.Losses;

/// <summary>
/// MSE on cosine (the article's similarity pairs; sentence-transformers <c>CosineSimilarityLoss</c> with MSELoss and the
/// identity transform): <c>L = (1/B) Σ_i (cos(u_i, v_i) − y_i)²</c>. Columns: text1, text2; labels: target similarity.
/// </summary>
public sealed class CosineSimilarityLoss : EmbeddingLoss
{
    public override string Name => "CosineSimilarityLoss";

    public override double Compute(IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, IReadOnlyList<double[][]> gradients)
    {
        var b = CheckBatch(Name, columns, labels, 2, 2, needsLabels: true);
        ArgumentNullException.ThrowIfNull(gradients);
        double loss = 0;
        for (var i = 0; i < b; i++)
        {
            var nu = Cosine.Normalize(columns[0][i], out var normU);
            var nv = Cosine.Normalize(columns[1][i], out var normV);
            var diff = Cosine.Dot(nu, nv) - labels![i];
            loss += diff * diff / b;
            Cosine.Backward(2 * diff / b, nu, normU, nv, normV, gradients[0][i], gradients[1][i]);
        }
        return loss;
    }
}
