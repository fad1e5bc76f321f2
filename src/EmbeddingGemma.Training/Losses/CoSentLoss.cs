namespace EmbeddingGemma.Training.Losses;

/// <summary>
/// sentence-transformers <c>CoSENTLoss</c> (scale λ = 20; training.md loss 5): with <c>c_i = cos(u_i, v_i)</c>,
/// <c>L = log(1 + Σ_{(i,j): y_i &lt; y_j} exp(λc_i − λc_j))</c> (computed as logsumexp over 0 and the pair terms, as
/// sentence-transformers does). Not averaged. Columns: text1, text2; labels: similarity scores.
/// </summary>
public sealed class CoSentLoss(double scale = 20.0) : EmbeddingLoss
{
    public double Scale { get; } = scale;

    public override string Name => "CoSENTLoss";

    public override double Compute(IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, IReadOnlyList<double[][]> gradients)
    {
        var b = CheckBatch(Name, columns, labels, 2, 2, needsLabels: true);
        ArgumentNullException.ThrowIfNull(gradients);
        var nu = new double[b][];
        var nv = new double[b][];
        var normU = new double[b];
        var normV = new double[b];
        var cos = new double[b];
        for (var i = 0; i < b; i++)
        {
            nu[i] = Cosine.Normalize(columns[0][i], out normU[i]);
            nv[i] = Cosine.Normalize(columns[1][i], out normV[i]);
            cos[i] = Cosine.Dot(nu[i], nv[i]);
        }
        // logsumexp over {0} ∪ {λ(c_i − c_j) : y_i < y_j}
        var max = 0.0;
        for (var i = 0; i < b; i++)
        {
            for (var j = 0; j < b; j++)
            {
                if (labels![i] < labels[j])
                {
                    max = Math.Max(max, Scale * (cos[i] - cos[j]));
                }
            }
        }
        var sum = Math.Exp(-max);
        for (var i = 0; i < b; i++)
        {
            for (var j = 0; j < b; j++)
            {
                if (labels![i] < labels[j])
                {
                    sum += Math.Exp(Scale * (cos[i] - cos[j]) - max);
                }
            }
        }
        var loss = max + Math.Log(sum);
        var dCos = new double[b];
        for (var i = 0; i < b; i++)
        {
            for (var j = 0; j < b; j++)
            {
                if (labels![i] < labels[j])
                {
                    var w = Math.Exp(Scale * (cos[i] - cos[j]) - loss) * Scale;
                    dCos[i] += w;
                    dCos[j] -= w;
                }
            }
        }
        for (var i = 0; i < b; i++)
        {
            Cosine.Backward(dCos[i], nu[i], normU[i], nv[i], normV[i], gradients[0][i], gradients[1][i]);
        }
        return loss;
    }
}
