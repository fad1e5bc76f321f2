namespace EmbeddingGemma.Training.Losses;

/// <summary>
/// sentence-transformers <c>MatryoshkaLoss</c> (training.md loss 6; EmbeddingGemma was trained with 768/512/256/128):
/// <c>L = Σ_k w_k · L_base(shrink_k(Y))</c>, where shrink_k keeps the first k values of every embedding (the encoder runs
/// once; the gradients of the prefixes add up). Like sentence-transformers, shrink only slices: the cosine-based base
/// losses then normalize, which equals truncate-and-renormalize (<see cref="Reference.Matryoshka"/>); TripletLoss
/// (Euclidean) sees the raw prefix, as in sentence-transformers. Dimensions larger than the embedding are refused.
/// </summary>
public sealed class MatryoshkaLoss : EmbeddingLoss
{
    public MatryoshkaLoss(EmbeddingLoss baseLoss, IReadOnlyList<int>? dimensions = null, IReadOnlyList<double>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(baseLoss);
        BaseLoss = baseLoss;
        Dimensions = dimensions ?? [768, 512, 256, 128];
        Weights = weights ?? Enumerable.Repeat(1.0, Dimensions.Count).ToArray();
        if (Weights.Count != Dimensions.Count || Dimensions.Count == 0 || Dimensions.Any(d => d <= 0))
        {
            throw new ArgumentException("MatryoshkaLoss needs one positive dimension per weight.", nameof(dimensions));
        }
    }

    public EmbeddingLoss BaseLoss { get; }

    public IReadOnlyList<int> Dimensions { get; }

    public IReadOnlyList<double> Weights { get; }

    public override string Name => $"MatryoshkaLoss({BaseLoss.Name})";

    public override double Compute(IReadOnlyList<double[][]> columns, IReadOnlyList<double>? labels, IReadOnlyList<double[][]> gradients)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(gradients);
        double loss = 0;
        for (var d = 0; d < Dimensions.Count; d++)
        {
            var k = Dimensions[d];
            var shrunk = columns.Select(c => c.Select(e => k <= e.Length
                ? e[..k]
                : throw new ArgumentException($"Matryoshka dimension {k} exceeds the embedding size {e.Length}.", nameof(columns))).ToArray()).ToArray();
            var g = ZeroGradients(shrunk);
            loss += Weights[d] * BaseLoss.Compute(shrunk, labels, g);
            for (var c = 0; c < columns.Count; c++)
            {
                for (var i = 0; i < columns[c].Length; i++)
                {
                    var dst = gradients[c][i];
                    var src = g[c][i];
                    for (var j = 0; j < k; j++)
                    {
                        dst[j] += Weights[d] * src[j];
                    }
                }
            }
        }
        return loss;
    }
}
