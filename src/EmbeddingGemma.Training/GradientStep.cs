using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Reference;

namespace EmbeddingGemma.Training;

/// <summary>
/// One loss-and-gradient evaluation in the shape every loss uses (training.md loss 4, GradCache / CachedMNRL
/// generalised): (1) embed every text without keeping activations; (2) compute the loss and G = ∂L/∂Y on the whole
/// batch; (3) per mini-batch, re-run the forward with activations and backpropagate ⟨Y_mb, G_mb⟩. Memory grows with the
/// mini-batch, not the batch; the gradient is exact (no dropout exists, so the re-run forward is identical).
/// This is the fp64 reference version; the fp32 trainer will follow the same three steps.
/// </summary>
public static class GradientStep
{
    /// <summary>
    /// <paramref name="columns"/>[c][i]: token ids of row i in column c (prompts and &lt;bos&gt;/&lt;eos&gt; already applied).
    /// Adds the parameter gradients to <paramref name="gradients"/> and returns the loss.
    /// </summary>
    public static double Run(ReferenceModel model, IReadOnlyList<int[][]> columns, IReadOnlyList<double>? labels, EmbeddingLoss loss,
        ReferenceParameters gradients, int miniBatch = 8)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentOutOfRangeException.ThrowIfLessThan(miniBatch, 1);
        var embeddings = columns.Select(c => c.Select(model.Embed).ToArray()).ToArray();
        var g = EmbeddingLoss.ZeroGradients(embeddings);
        var value = loss.Compute(embeddings, labels, g);
        var all = columns.SelectMany((c, ci) => c.Select((ids, i) => (ids, grad: g[ci][i]))).ToArray();
        for (var start = 0; start < all.Length; start += miniBatch)
        {
            var chunk = all.AsSpan(start, Math.Min(miniBatch, all.Length - start));
            var acts = new SequenceActivations[chunk.Length];
            for (var i = 0; i < chunk.Length; i++)
            {
                acts[i] = model.Forward(chunk[i].ids);
            }
            for (var i = 0; i < chunk.Length; i++)
            {
                model.Backward(acts[i], chunk[i].grad, gradients);
            }
        }
        return value;
    }
}
